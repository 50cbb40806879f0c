import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfMetadata

/// Sign-up, the caller's own account, personal access tokens, and administration of users.
struct AccountRoutes: Sendable {
    let auth: APIAuthentication
    let accounts: any AccountStore
    let settings: HubSettings

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
    }

    func view(_ account: Account) -> AccountView {
        AccountView(username: account.name, kind: account.kind.rawValue, email: account.email, is_admin: account.isAdmin,
                    disabled: account.disabled, private_repo_limit: account.privateRepoLimit ?? settings.defaultPrivateRepoLimit,
                    default_private: account.defaultPrivate, created_at: account.createdAt)
    }

    /// `POST /api/users {"username","email","password"}`.
    func signUp(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let username: String; let email: String; let password: String }
        let caller = try await auth.principal(request, context: context)
        guard settings.signupEnabled || caller?.isAdmin == true else {
            throw APIError(.forbidden, "sign-up is turned off on this server; ask an administrator for an account")
        }
        let body = try await request.decodeJSON(Body.self)
        let account = try await AccountValidation.newUser(username: body.username, email: body.email, password: body.password,
                                                          hasher: auth.authenticator.hasher)
        do {
            try await accounts.createAccount(account)
        } catch AccountStoreError.exists {
            throw APIError(.conflict, "the name \(body.username) is taken", field: "username")
        }
        return try APIResponse.json(view(account), status: .created)
    }

    /// `GET /api/user`: the caller's account, organizations and private repository usage.
    func me(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        guard let account = try await accounts.account(principal.name) else { throw APIError.unauthenticated }
        struct Body: Encodable {
            let account: AccountView
            let organizations: [String]
            let private_repo_count: Int
        }
        return try APIResponse.json(Body(account: view(account), organizations: try await accounts.organizations(of: principal.name),
                                         private_repo_count: try await accounts.privateRepositoryCount(in: principal.name)))
    }

    /// `PATCH /api/user {"email","password","default_private"}`.
    func updateMe(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let email: String?; let password: String?; let default_private: Bool? }
        let principal = try await auth.require(request, context: context)
        guard principal.ceiling == nil else { throw APIError(.forbidden, "access tokens cannot change account settings; use the password") }
        let body = try await request.decodeJSON(Body.self)
        var changes = AccountChanges(defaultPrivate: body.default_private)
        if let email = body.email { changes.email = try AccountValidation.email(email) }
        if let password = body.password { changes.passwordHash = try await auth.authenticator.hasher.hash(try AccountValidation.password(password)) }
        _ = try await accounts.updateAccount(principal.name, changes)
        if changes.passwordHash != nil { auth.authenticator.forgetVerifiedPasswords(of: principal.name) }
        return try await me(request, context: context)
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
        guard principal.ceiling == nil else { throw APIError(.forbidden, "access tokens cannot create access tokens; use the password") }
        let body = try await request.decodeJSON(Body.self)
        let name = body.name.trimmingSpaces()
        guard (1...100).contains(name.count) else { throw APIError.invalid("name", "name must be 1 to 100 characters") }
        let requested = body.scopes ?? [TokenScope.read.rawValue]
        let scopes = try requested.map { raw in
            guard let scope = TokenScope(rawValue: raw) else {
                throw APIError.invalid("scopes", "scopes must be read, read-write or read-write-delete")
            }
            return scope
        }
        guard let scope = scopes.max(by: { $0.ceiling < $1.ceiling }) else { throw APIError.invalid("scopes", "give one scope") }
        let secret = SecretToken.generate(prefix: SecretToken.personalPrefix)
        let token = AccessToken(id: SecretToken.identifier(), account: principal.name, name: name, kind: .personal, scope: scope)
        try await accounts.createToken(token, hash: SecretToken.hash(secret))
        var shown = view(token)
        shown.token = secret
        return try APIResponse.json(shown, status: .created)
    }

    /// `GET /api/tokens`.
    func listTokens(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await accounts.tokens(of: principal.name).map(view))
    }

    /// `DELETE /api/tokens/{id}`.
    func revokeToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let id = try context.parameters.require("id")
        guard try await accounts.revokeToken(id, of: principal.name) else { throw APIError.notFound("token") }
        return .empty(.noContent)
    }

    // MARK: Administration

    /// `GET /api/admin/users`.
    func listUsers(_ request: Request, context: WharfRequestContext) async throws -> Response {
        guard try await auth.require(request, context: context).isAdmin else { throw APIError.forbidden }
        return try APIResponse.json(try await accounts.accounts().map(view))
    }

    /// `PUT /api/admin/users/{username} {"private_repo_limit","is_admin","disabled"}`.
    func administer(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let private_repo_limit: Int?; let is_admin: Bool?; let disabled: Bool? }
        let principal = try await auth.require(request, context: context)
        guard principal.isAdmin, principal.ceiling == nil || principal.ceiling == .admin else { throw APIError.forbidden }
        let name = try context.parameters.require("username")
        let body = try await request.decodeJSON(Body.self)
        if let limit = body.private_repo_limit, limit < 0 {
            throw APIError.invalid("private_repo_limit", "private_repo_limit cannot be negative")
        }
        let changes = AccountChanges(isAdmin: body.is_admin, disabled: body.disabled,
                                     privateRepoLimit: body.private_repo_limit.map { .some($0) })
        guard try await accounts.updateAccount(name, changes), let account = try await accounts.account(name) else {
            throw APIError.notFound("account")
        }
        auth.authenticator.forgetVerifiedPasswords(of: name)
        return try APIResponse.json(view(account))
    }
}

/// The rules accounts must follow, shared by the API and the command line.
public enum AccountValidation {
    /// A new user with a bcrypt-hashed password, or a 422 naming the field at fault.
    /// Operators (on the command line) may take reserved names such as `admin`; sign-up may not.
    public static func newUser(username: String, email: String?, password: String, hasher: PasswordHasher,
                               isAdmin: Bool = false, allowReserved: Bool = false) async throws -> Account {
        guard AccountName.isWellFormed(username) else {
            throw APIError.invalid("username", "username must be 4 to 30 lowercase letters and digits")
        }
        guard allowReserved || AccountName(username) != nil else { throw APIError.invalid("username", "the name \(username) is reserved") }
        return Account(name: username, kind: .user, email: try email.map(self.email),
                       passwordHash: try await hasher.hash(try self.password(password)), isAdmin: isAdmin)
    }

    public static func email(_ raw: String) throws -> String {
        let email = raw.trimmingSpaces()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(" ") else {
            throw APIError.invalid("email", "email must be an address like name@example.com")
        }
        return email
    }

    public static func password(_ raw: String) throws -> String {
        guard raw.count >= 8 else { throw APIError.invalid("password", "password must be at least 8 characters") }
        guard raw.utf8.count <= 72 else { throw APIError.invalid("password", "password must be at most 72 bytes") }
        return raw
    }
}
