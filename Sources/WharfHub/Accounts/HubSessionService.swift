import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Tokens of the Docker Hub API: `POST /v2/users/login` and `POST /v2/auth/token` trade a
/// password or a personal access token for a signed, short-lived session token, which then
/// stands for its account on every Hub route. A session made from a personal access token has
/// that token's scope, and ends when the token is revoked, deactivated or expires; every session
/// ends when its account is disabled.
public struct HubSessionService: Sendable {
    let authenticator: Authenticator
    let tokens: TokenService
    let stores: Stores

    /// How long a session from `/v2/users/login` lasts.
    public static let loginLifetime: TimeInterval = 3600
    /// How long a token from `/v2/auth/token` lasts (as Docker Hub's: 10 minutes).
    public static let accessTokenLifetime: TimeInterval = 600

    public init(authenticator: Authenticator, tokens: TokenService, stores: Stores) {
        self.authenticator = authenticator
        self.tokens = tokens
        self.stores = stores
    }

    /// Checks the credentials (throttled as `docker login` is) and returns a session token;
    /// throws `Authenticator.Failure` for wrong ones.
    public func login(username: String, secret: String, clientAddress: String?, lifetime: TimeInterval) async throws -> String {
        let principal = try await AuditTrail.auditingLogin(username, via: "hub-api", stores: stores) {
            try await authenticator.authenticate(username: username, secret: secret, clientAddress: clientAddress)
        }
        var tokenID: String? = nil
        if secret.hasPrefix(SecretToken.personalPrefix) {
            tokenID = try await stores.accounts.token(hash: SecretToken.hash(secret), at: stores.clock.now)?.id
        }
        return try await tokens.issueHubSession(account: principal.name, tokenID: tokenID, lifetime: lifetime)
    }

    /// The principal a session token stands for; nil when it is not one, has expired, or its
    /// account or personal access token no longer works.
    public func principal(session: String) async throws -> Principal? {
        guard let claims = try? await tokens.verifyHubSession(session) else { return nil }
        let name = claims.sub.value
        guard let account = try await stores.accounts.account(name), account.kind == .user, !account.disabled else { return nil }
        guard let tokenID = claims.tid else { return Principal(name: account.name, isAdmin: account.isAdmin) }
        guard let token = try await stores.accounts.token(id: tokenID, of: name), token.kind == .personal, token.isActive,
              token.expiresAt.map({ $0 > stores.clock.now }) ?? true else { return nil }
        return Principal(account: account, scope: token.scope)
    }
}
