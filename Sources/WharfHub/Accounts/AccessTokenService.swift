import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Personal access tokens: created with a scope, shown once, listed, revoked.
public struct AccessTokenService: Sendable {
    let stores: Stores
    let access: Access

    /// Creates a token; the secret is returned here and never again.
    public func create(name raw: String, scopes: [String]?, by principal: Principal?) async throws -> (token: AccessToken, secret: String) {
        try access.require(principal, .manageTokens)
        guard let principal else { throw HubError.unauthenticated }
        let name = try AccountRules.tokenName(raw)
        let requested = try (scopes ?? [TokenScope.read.rawValue]).map { raw in
            guard let scope = TokenScope(rawValue: raw) else {
                throw HubError.invalid("scopes", "scopes must be read, read-write or read-write-delete")
            }
            return scope
        }
        guard let scope = requested.max(by: { $0.ceiling < $1.ceiling }) else { throw HubError.invalid("scopes", "give one scope") }
        let secret = SecretToken.generate(prefix: SecretToken.personalPrefix)
        let token = AccessToken(id: SecretToken.identifier(), account: principal.name, name: name, kind: .personal, scope: scope,
                                createdAt: stores.clock.now)
        try await stores.accounts.createToken(token, hash: SecretToken.hash(secret))
        return (token, secret)
    }

    /// The caller's tokens (personal ones and `docker login` refresh tokens).
    public func list(by principal: Principal?) async throws -> [AccessToken] {
        try access.require(principal, .manageTokens)
        guard let principal else { throw HubError.unauthenticated }
        return try await stores.accounts.tokens(of: principal.name)
    }

    /// Revokes one of the caller's tokens; it stops working at once.
    public func revoke(_ id: String, by principal: Principal?) async throws {
        try access.require(principal, .manageTokens)
        guard let principal else { throw HubError.unauthenticated }
        guard UUID(uuidString: id) != nil, try await stores.accounts.revokeToken(id, of: principal.name) else {
            throw HubError.notFound("token")
        }
    }
}
