import Foundation
import WharfCore
import WharfMetadata

/// Turns credentials into a `Principal`: passwords (bcrypt), personal access tokens and refresh
/// tokens.
///
/// Failed password attempts are throttled per (account, client address), and per address for
/// names that do not exist, so that guessing from one address stops while the account's owner,
/// elsewhere, still logs in; behind a NAT or a load balancer nobody locks everyone else out.
/// Personal access tokens cannot be guessed and are never throttled.
public struct Authenticator: Sendable {
    /// Why authentication failed.
    public enum Failure: Error, Equatable {
        /// Wrong username, password or token (deliberately not saying which).
        case invalidCredentials
        /// Too many failures; retry after this many seconds.
        case throttled(retryAfter: Int)
    }

    public let accounts: any AccountStore
    public let hasher: PasswordHasher
    public let throttle: LoginThrottle
    public let clock: any WallClock
    let verified: VerifiedCredentialCache

    public init(accounts: any AccountStore, hasher: PasswordHasher = PasswordHasher(), clock: any WallClock = SystemClock(),
                throttle: LoginThrottle? = nil, verified: VerifiedCredentialCache? = nil) {
        self.accounts = accounts
        self.hasher = hasher
        self.clock = clock
        self.throttle = throttle ?? LoginThrottle(clock: clock)
        self.verified = verified ?? VerifiedCredentialCache(clock: clock)
    }

    /// Checks `username` with a password or a personal access token.
    public func authenticate(username: String, secret: String, clientAddress: String?) async throws -> Principal {
        if secret.hasPrefix(SecretToken.personalPrefix) {
            // Tokens are cheap to check and must stop working the moment they are revoked: never cached, never throttled.
            guard let principal = try await verify(username: username, secret: secret) else { throw Failure.invalidCredentials }
            return principal
        }
        // A name no account can have never logs in: nothing to guess, nothing to count.
        guard AccountName.isWellFormed(username) else { throw Failure.invalidCredentials }
        let key = try await throttleKey(username: username, clientAddress: clientAddress)
        if let wait = throttle.retryAfter(key) { throw Failure.throttled(retryAfter: wait) }
        let principal = try await verified.principal(username: username, secret: secret) {
            try await verify(username: username, secret: secret)
        }
        if let principal {
            throttle.recordSuccess(key)
            return principal
        }
        throttle.recordFailure(key)
        if let wait = throttle.retryAfter(key) { throw Failure.throttled(retryAfter: wait) }
        throw Failure.invalidCredentials
    }

    /// Failures count per (account, address); for a name no account has, per address alone.
    private func throttleKey(username: String, clientAddress: String?) async throws -> String {
        let address = clientAddress ?? "-"
        guard try await accounts.account(username) != nil else { return "unknown|\(address)" }
        return "account|\(username)|\(address)"
    }

    private func verify(username: String, secret: String) async throws -> Principal? {
        guard let account = try await accounts.account(username), account.kind == .user, !account.disabled else {
            return nil
        }
        if secret.hasPrefix(SecretToken.personalPrefix) {
            guard let token = try await accounts.token(hash: SecretToken.hash(secret), at: clock.now),
                  token.kind == .personal, token.account == account.name else { return nil }
            try await touch(token)
            return Principal(account: account, scope: token.scope)
        }
        guard let hash = account.passwordHash, try await hasher.verify(secret, hash: hash) else { return nil }
        return Principal(name: account.name, isAdmin: account.isAdmin)
    }

    /// Forgets cached password checks of `username` (after a password change or when disabling the account).
    public func forgetVerifiedPasswords(of username: String) {
        verified.forget(username: username)
    }

    /// The principal a bearer personal access token (or refresh token, when `allowRefresh`) stands for.
    public func authenticate(token secret: String, allowRefresh: Bool = false) async throws -> Principal? {
        guard let token = try await accounts.token(hash: SecretToken.hash(secret), at: clock.now),
              token.kind == .personal || (allowRefresh && token.kind == .refresh),
              let account = try await accounts.account(token.account), !account.disabled
        else { return nil }
        try await touch(token)
        return Principal(account: account, scope: token.scope)
    }

    /// Records that a token was used, at most once a minute (a write on every request would be costly).
    private func touch(_ token: AccessToken) async throws {
        let now = clock.now
        if let last = token.lastUsedAt, now.timeIntervalSince(last) < 60 { return }
        try await accounts.touchToken(token.id, at: now)
    }

    /// The principal for an account named in a token's subject, if it is still enabled.
    public func principal(named name: String) async throws -> Principal? {
        guard !name.isEmpty, let account = try await accounts.account(name), account.kind == .user, !account.disabled else { return nil }
        return Principal(name: account.name, isAdmin: account.isAdmin)
    }

    /// Creates a refresh token for `principal` (docker's identity token); returns the secret.
    public func issueRefreshToken(for principal: Principal, clientID: String?) async throws -> String {
        let secret = SecretToken.generate(prefix: SecretToken.refreshPrefix)
        let scope: TokenScope = switch principal.ceiling {
        case .read? where principal.publicOnly: .publicRead
        case .read?: .read
        case .write?: .readWrite
        default: .readWriteDelete
        }
        let token = AccessToken(id: SecretToken.identifier(), account: principal.name,
                                name: "login (\(clientID ?? "registry client"))", kind: .refresh, scope: scope,
                                createdAt: clock.now, expiresAt: clock.now.addingTimeInterval(90 * 24 * 3600))
        try await accounts.createToken(token, hash: SecretToken.hash(secret))
        return secret
    }
}
