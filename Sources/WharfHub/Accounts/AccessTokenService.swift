import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Personal access tokens: created with a scope, shown once, listed, renamed, (de)activated, revoked.
public struct AccessTokenService: Sendable {
    let stores: Stores
    let access: Access

    /// Who asked for a token, as Docker Hub records it.
    public struct Origin: Sendable {
        public var address: String?
        public var userAgent: String?

        public init(address: String?, userAgent: String?) {
            self.address = address
            self.userAgent = userAgent
        }
    }

    /// Creates a token; the secret is returned here and never again. `scopes` are Wharf's names
    /// (`read`, `read-write`, `read-write-delete`, `public-read`) or Docker Hub's (`repo:read`, …);
    /// several give the widest. `requestID` (a UUID a form carries) makes the creation idempotent:
    /// the same request again is refused instead of making a second token.
    public func create(name raw: String, scopes: [String]?, expiresAt: Date? = nil, origin: Origin? = nil, requestID: String? = nil,
                       by principal: Principal?) async throws -> (token: AccessToken, secret: String) {
        try access.require(principal, .manageTokens)
        guard let principal else { throw HubError.unauthenticated }
        let id = requestID.flatMap { UUID(uuidString: $0) }.map { $0.uuidString.lowercased() } ?? SecretToken.identifier()
        if requestID != nil, try await stores.accounts.token(id: id, of: principal.name) != nil {
            throw HubError.conflict("request", "this token was created already, and its secret shown once; revoke it and create another if it was not copied")
        }
        let name = try AccountRules.tokenName(raw)
        let requested = try (scopes ?? [TokenScope.read.rawValue]).map { raw in
            guard let scope = TokenScope(rawValue: raw) ?? TokenScope(hubName: raw) else {
                throw HubError.invalid("scopes", "scopes must be read, read-write, read-write-delete or public-read "
                                       + "(or repo:read, repo:write, repo:admin, repo:public_read)")
            }
            return scope
        }
        guard let scope = requested.max(by: { ($0.ceiling, $0 != .publicRead ? 1 : 0) < ($1.ceiling, $1 != .publicRead ? 1 : 0) }) else {
            throw HubError.invalid("scopes", "give one scope")
        }
        let now = stores.clock.now
        if let expiresAt, expiresAt <= now { throw HubError.invalid("expires_at", "expires_at must be in the future") }
        let secret = SecretToken.generate(prefix: SecretToken.personalPrefix)
        let token = AccessToken(id: id, account: principal.name, name: name, kind: .personal, scope: scope,
                                createdAt: now, expiresAt: expiresAt, creatorAddress: origin?.address,
                                creatorAgent: origin?.userAgent.map { String($0.prefix(500)) })
        try await stores.transaction { tx in
            try await tx.accounts.createToken(token, hash: SecretToken.hash(secret))
            try await AuditTrail.record("token_create", actor: token.account, namespace: token.account, target: token.id,
                                        details: ["name": token.name, "scope": token.scope.rawValue], in: tx)
        }
        return (token, secret)
    }

    /// The caller's tokens (personal ones and `docker login` refresh tokens).
    public func list(by principal: Principal?) async throws -> [AccessToken] {
        let owner = try self.owner(principal)
        return try await stores.accounts.tokens(of: owner)
    }

    /// One of the caller's tokens.
    public func show(_ id: String, by principal: Principal?) async throws -> AccessToken {
        let owner = try self.owner(principal)
        guard UUID(uuidString: id) != nil, let token = try await stores.accounts.token(id: id, of: owner) else {
            throw HubError.notFound("token")
        }
        return token
    }

    /// Renames and/or (de)activates one of the caller's tokens: an inactive token authenticates nothing.
    public func update(_ id: String, name: String?, isActive: Bool?, by principal: Principal?) async throws -> AccessToken {
        let owner = try self.owner(principal)
        let name = try name.map(AccountRules.tokenName)
        guard UUID(uuidString: id) != nil else { throw HubError.notFound("token") }
        return try await stores.transaction { tx in
            guard let token = try await tx.accounts.updateToken(id, of: owner, name: name, isActive: isActive) else {
                throw HubError.notFound("token")
            }
            if let isActive {
                try await AuditTrail.record(isActive ? "token_activate" : "token_deactivate", actor: owner, namespace: owner, target: id, in: tx)
            }
            return token
        }
    }

    /// Revokes one of the caller's tokens; it stops working at once.
    public func revoke(_ id: String, by principal: Principal?) async throws {
        let owner = try self.owner(principal)
        guard UUID(uuidString: id) != nil else { throw HubError.notFound("token") }
        try await stores.transaction { tx in
            guard try await tx.accounts.revokeToken(id, of: owner) else { throw HubError.notFound("token") }
            try await AuditTrail.record("token_revoke", actor: owner, namespace: owner, target: id, in: tx)
        }
    }

    /// The account whose tokens the caller may manage: their own, with a password.
    private func owner(_ principal: Principal?) throws -> String {
        try access.require(principal, .manageTokens)
        guard let principal else { throw HubError.unauthenticated }
        return principal.name
    }
}
