import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Website sessions: a password login (throttled as `docker login` is) makes a random secret for
/// the browser's cookie and a form token for its forms. Sessions live in the database (replicas
/// share them), end at logout, when idle too long, when the password changes or the account is
/// disabled. A new login always makes a new session (rotation), never reuses one.
public struct WebSessionService: Sendable {
    let stores: Stores
    let authenticator: Authenticator
    /// How long a session may stay unused.
    public let idleLifetime: TimeInterval

    public init(stores: Stores, authenticator: Authenticator, idleLifetime: TimeInterval = 12 * 3600) {
        self.stores = stores
        self.authenticator = authenticator
        self.idleLifetime = idleLifetime
    }

    /// A logged-in browser, as a request sees it.
    public struct Session: Sendable {
        public let principal: Principal
        /// What every form of this session must carry back.
        public let formToken: String
    }

    /// Checks the password and starts a session; returns the cookie's secret and the session.
    /// Personal access tokens do not log in to the website. Throws `Authenticator.Failure`.
    public func logIn(username: String, password: String, clientAddress: String?) async throws -> (secret: String, session: Session) {
        guard !password.hasPrefix(SecretToken.personalPrefix) else { throw Authenticator.Failure.invalidCredentials }
        let principal = try await AuditTrail.auditingLogin(username, via: "website", stores: stores) {
            try await authenticator.authenticate(username: username, secret: password, clientAddress: clientAddress)
        }
        let secret = SecretToken.generate(prefix: Self.secretPrefix)
        let now = stores.clock.now
        let session = WebSession(account: principal.name, formToken: SecretToken.generate(prefix: ""), createdAt: now, lastSeenAt: now)
        try await stores.sessions.createSession(session, secretHash: SecretToken.hash(secret))
        return (secret, Session(principal: principal, formToken: session.formToken))
    }

    /// The session a cookie's secret stands for; nil when unknown, idle too long, or its account is disabled.
    public func resume(secret: String) async throws -> Session? {
        guard secret.hasPrefix(Self.secretPrefix), secret.count < 200 else { return nil }
        let hash = SecretToken.hash(secret)
        let now = stores.clock.now
        guard let session = try await stores.sessions.session(secretHash: hash, idleSince: now.addingTimeInterval(-idleLifetime)),
              let principal = try await authenticator.principal(named: session.account) else { return nil }
        if now.timeIntervalSince(session.lastSeenAt) >= 60 { try await stores.sessions.touchSession(secretHash: hash, at: now) }
        return Session(principal: principal, formToken: session.formToken)
    }

    /// Ends the session of this cookie secret.
    public func logOut(secret: String) async throws {
        try await stores.sessions.deleteSession(secretHash: SecretToken.hash(secret))
    }

    /// The prefix of session secrets.
    static let secretPrefix = "wharf_session_"
}
