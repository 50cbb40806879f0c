import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfMetadata

/// Repositories as the hub sees them: listing, creation, visibility, description, collaborators, deletion.
/// A repository the caller may not read answers exactly like a missing one (404).
struct RepositoryAPIRoutes: Sendable {
    let auth: APIAuthentication
    let accounts: any AccountStore
    let authorizer: RegistryAuthorizer

    func register(on router: Router<WharfRequestContext>) {
        router.post("/api/repositories") { request, context in try await self.create(request, context: context) }
        router.get("/api/repositories/:namespace") { request, context in try await self.list(request, context: context) }
        router.get("/api/repositories/:namespace/:name") { request, context in try await self.show(request, context: context) }
        router.patch("/api/repositories/:namespace/:name") { request, context in try await self.update(request, context: context) }
        router.delete("/api/repositories/:namespace/:name") { request, context in try await self.delete(request, context: context) }
        router.get("/api/repositories/:namespace/:name/collaborators") { request, context in try await self.collaborators(request, context: context) }
        router.put("/api/repositories/:namespace/:name/collaborators/:username") { request, context in
            try await self.setCollaborator(request, context: context)
        }
        router.delete("/api/repositories/:namespace/:name/collaborators/:username") { request, context in
            try await self.removeCollaborator(request, context: context)
        }
    }

    struct RepositoryView: Encodable {
        let namespace: String
        let name: String
        let full_name: String
        let is_private: Bool
        let description: String
        let created_at: Date
        let permission: String?
    }

    func view(_ info: RepositoryInfo, permission: Permission?) -> RepositoryView {
        RepositoryView(namespace: String(info.name.namespace), name: String(info.name.shortName), full_name: info.name.value,
                       is_private: info.isPrivate, description: info.description, created_at: info.createdAt,
                       permission: permission?.description)
    }

    /// The repository of the path and what the caller may do with it; 404 when they may not read it.
    private func resolve(_ context: WharfRequestContext, _ principal: Principal?) async throws -> (RepositoryName, AccessFacts, Permission) {
        let raw = "\(try context.parameters.require("namespace"))/\(try context.parameters.require("name"))"
        guard let name = RepositoryName(raw) else { throw APIError.invalid("name", "invalid repository name \(raw)") }
        let facts = try await accounts.accessFacts(for: principal?.name, on: name)
        guard facts.exists, let permission = AccessPolicy.permission(of: principal, on: name, facts: facts) else {
            throw APIError.notFound("repository")
        }
        return (name, facts, permission)
    }

    private func requireManage(_ permission: Permission) throws {
        guard permission >= RepositoryAction.manage.requiredPermission else {
            throw APIError(.forbidden, "managing this repository needs the admin permission")
        }
    }

    /// `POST /api/repositories {"namespace","name","is_private","description"}`.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let namespace: String; let name: String; let is_private: Bool?; let description: String? }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        guard let name = RepositoryName("\(body.namespace)/\(body.name)"), !body.namespace.isEmpty else {
            throw APIError.invalid("name", "repository names are lowercase letters, digits and separators (. _ -)")
        }
        let facts = try await accounts.accessFacts(for: principal.name, on: name)
        guard AccessPolicy.allows(principal, .push, on: name, facts: facts) else {
            throw APIError(.forbidden, "you may not create repositories in \(body.namespace)")
        }
        let owner = try await accounts.account(body.namespace)
        let isPrivate = body.is_private ?? owner?.defaultPrivate ?? false
        if isPrivate, let owner { try await checkPlan(owner, name) }
        do {
            try await accounts.createRepository(name, isPrivate: isPrivate, description: body.description ?? "")
        } catch AccountStoreError.exists {
            throw APIError(.conflict, "the repository \(name.value) exists", field: "name")
        }
        let info = try await accounts.repositoryInfo(name)!
        return try APIResponse.json(view(info, permission: .admin), status: .created)
    }

    /// `GET /api/repositories/{namespace}`: the namespace's repositories the caller may read.
    func list(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context)
        var result: [RepositoryView] = []
        for info in try await accounts.repositories(in: try context.parameters.require("namespace")) {
            let facts = try await accounts.accessFacts(for: principal?.name, on: info.name)
            if let permission = AccessPolicy.permission(of: principal, on: info.name, facts: facts) {
                result.append(view(info, permission: permission))
            }
        }
        return try APIResponse.json(result)
    }

    /// `GET /api/repositories/{namespace}/{name}`.
    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context)
        let (name, _, permission) = try await resolve(context, principal)
        return try APIResponse.json(view(try await accounts.repositoryInfo(name)!, permission: permission))
    }

    /// `PATCH /api/repositories/{namespace}/{name} {"is_private","description"}`.
    func update(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let is_private: Bool?; let description: String? }
        let principal = try await auth.require(request, context: context)
        let (name, facts, permission) = try await resolve(context, principal)
        try requireManage(permission)
        let body = try await request.decodeJSON(Body.self)
        if let description = body.description, description.count > 10_000 {
            throw APIError.invalid("description", "description must be at most 10000 characters")
        }
        if body.is_private == true, !facts.isPrivate, let owner = try await accounts.account(String(name.namespace)) {
            try await checkPlan(owner, name)
        }
        _ = try await accounts.updateRepository(name, isPrivate: body.is_private, description: body.description)
        return try APIResponse.json(view(try await accounts.repositoryInfo(name)!, permission: permission))
    }

    /// `DELETE /api/repositories/{namespace}/{name}`.
    func delete(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let (name, _, permission) = try await resolve(context, principal)
        try requireManage(permission)
        _ = try await accounts.deleteRepository(name)
        return .empty(.noContent)
    }

    /// `GET /api/repositories/{namespace}/{name}/collaborators`.
    func collaborators(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let (name, _, permission) = try await resolve(context, principal)
        try requireManage(permission)
        struct Entry: Encodable { let username: String; let permission: String }
        return try APIResponse.json(try await accounts.collaborators(of: name).map { Entry(username: $0.account, permission: $0.permission.description) })
    }

    /// `PUT /api/repositories/{namespace}/{name}/collaborators/{username} {"permission"}`.
    func setCollaborator(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let permission: String }
        let principal = try await auth.require(request, context: context)
        let (name, _, permission) = try await resolve(context, principal)
        try requireManage(permission)
        let username = try context.parameters.require("username")
        let body = try await request.decodeJSON(Body.self)
        guard let granted = Permission(name: body.permission) else {
            throw APIError.invalid("permission", "permission must be read, write or admin")
        }
        guard let account = try await accounts.account(username), account.kind == .user else {
            throw APIError.invalid("username", "no user named \(username)")
        }
        try await accounts.setCollaborator(account.name, permission: granted, on: name)
        struct Entry: Encodable { let username: String; let permission: String }
        return try APIResponse.json(Entry(username: account.name, permission: granted.description))
    }

    /// `DELETE /api/repositories/{namespace}/{name}/collaborators/{username}`.
    func removeCollaborator(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let (name, _, permission) = try await resolve(context, principal)
        try requireManage(permission)
        guard try await accounts.removeCollaborator(try context.parameters.require("username"), from: name) else {
            throw APIError.notFound("collaborator")
        }
        return .empty(.noContent)
    }

    private func checkPlan(_ owner: Account, _ name: RepositoryName) async throws {
        do {
            try await authorizer.checkPrivateLimit(of: owner, adding: name)
        } catch let error as RegistryError {
            throw APIError(.forbidden, error.message, field: "is_private")
        }
    }
}
