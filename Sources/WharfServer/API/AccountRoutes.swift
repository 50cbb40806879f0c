import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Sign-up, the caller's own account, personal access tokens, and administration of users.
/// Every rule is in `AccountService` and `AccessTokenService`; this file only speaks JSON.
struct AccountRoutes: Sendable {
    let auth: APIAuthentication
    let hub: Hub

    func register(on router: Router<WharfRequestContext>) {
        router.post("/api/users") { request, context in try await self.signUp(request, context: context) }
        router.get("/api/user") { request, context in try await self.me(request, context: context) }
        router.patch("/api/user") { request, context in try await self.updateMe(request, context: context) }
        router.post("/api/tokens") { request, context in try await self.createToken(request, context: context) }
        router.get("/api/tokens") { request, context in try await self.listTokens(request, context: context) }
        router.delete("/api/tokens/:id") { request, context in try await self.revokeToken(request, context: context) }
        router.get("/api/admin/users") { request, context in try await self.listUsers(request, context: context) }
        router.put("/api/admin/users/:username") { request, context in try await self.administer(request, context: context) }
    }

    /// The public view of an account.
    struct AccountView: Encodable {
        let username: String
        let kind: String
        let email: String?
        let is_admin: Bool
        let disabled: Bool
        let private_repo_limit: Int
        let default_private: Bool
        let created_at: Date
        /// Manifest pulls per window this account may make; null: no limit.
        @NullWhenAbsent var pull_limit: Int?
    }

    func view(_ account: Account) -> AccountView {
        AccountView(username: account.name, kind: account.kind.rawValue, email: account.email, is_admin: account.isAdmin,
                    disabled: account.disabled, private_repo_limit: hub.accounts.privateRepoLimit(of: account),
                    default_private: account.defaultPrivate, created_at: account.createdAt,
                    pull_limit: hub.registry.pullLimits.limit(for: account))
    }

    /// `POST /api/users {"username","email","password"}`.
    func signUp(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let username: String; let email: String; let password: String }
        let caller = try await auth.principal(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let account = try await hub.accounts.signUp(username: body.username, email: body.email, password: body.password, by: caller)
        return try APIResponse.json(view(account), status: .created)
    }

    struct OverviewView: Encodable {
        let account: AccountView
        let organizations: [String]
        let private_repo_count: Int
    }

    /// `GET /api/user`: the caller's account, organizations and private repository usage.
    func me(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let overview = try await hub.accounts.overview(of: try await auth.require(request, context: context))
        return try APIResponse.json(view(overview))
    }

    func view(_ overview: AccountService.Overview) -> OverviewView {
        OverviewView(account: view(overview.account), organizations: overview.organizations,
                     private_repo_count: overview.privateRepositoryCount)
    }

    /// `PATCH /api/user {"email","password","default_private"}`.
    func updateMe(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let email: String?; let password: String?; let default_private: Bool? }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let overview = try await hub.accounts.updateSettings(email: body.email, password: body.password,
                                                             defaultPrivate: body.default_private, by: principal)
        return try APIResponse.json(view(overview))
    }

    // MARK: Tokens

    struct TokenView: Encodable {
        let id: String
        let name: String
        let kind: String
        let scopes: [String]
        let created_at: Date
        let last_used_at: Date?
        let expires_at: Date?
        var token: String? = nil
    }

    func view(_ token: AccessToken) -> TokenView {
        TokenView(id: token.id, name: token.name, kind: token.kind.rawValue, scopes: [token.scope.rawValue],
                  created_at: token.createdAt, last_used_at: token.lastUsedAt, expires_at: token.expiresAt)
    }

    /// `POST /api/tokens {"name","scopes":[…]}`: the secret is in the response, and only there.
    func createToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let name: String; let scopes: [String]? }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let (token, secret) = try await hub.tokens.create(name: body.name, scopes: body.scopes, by: principal)
        var shown = view(token)
        shown.token = secret
        return try APIResponse.json(shown, status: .created)
    }

    /// `GET /api/tokens`.
    func listTokens(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await hub.tokens.list(by: principal).map(view))
    }

    /// `DELETE /api/tokens/{id}`.
    func revokeToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await hub.tokens.revoke(try context.parameters.require("id"), by: principal)
        return .empty(.noContent)
    }

    // MARK: Administration

    /// `GET /api/admin/users`.
    func listUsers(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await hub.accounts.list(by: principal).map(view))
    }

    /// `PUT /api/admin/users/{username} {"private_repo_limit","is_admin","disabled"}`.
    func administer(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let private_repo_limit: Int?; let is_admin: Bool?; let disabled: Bool?; let pull_limit: Int? }
        let principal = try await auth.require(request, context: context)
        let name = try context.parameters.require("username")
        let body = try await request.decodeJSON(Body.self)
        let change = AccountService.Administration(isAdmin: body.is_admin, disabled: body.disabled,
                                                   privateRepoLimit: body.private_repo_limit.map { .some($0) },
                                                   pullLimit: body.pull_limit.map { .some($0) })
        return try APIResponse.json(view(try await hub.accounts.administer(name, change, by: principal)))
    }
}
