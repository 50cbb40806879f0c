import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Repositories as the hub sees them: listing, creation, visibility, description, collaborators,
/// deletion. Every rule is in `RepositoryService`; this file only speaks JSON.
struct RepositoryAPIRoutes: Sendable {
    let auth: APIAuthentication
    let repositories: RepositoryService

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
        router.put("/api/repositories/:namespace/:name/star") { request, context in try await self.star(request, context: context, on: true) }
        router.delete("/api/repositories/:namespace/:name/star") { request, context in try await self.star(request, context: context, on: false) }
        router.get("/api/users/:username/starred") { request, context in try await self.starred(request, context: context) }
    }

    struct RepositoryView: Encodable {
        let namespace: String
        let name: String
        let full_name: String
        let is_private: Bool
        let description: String
        let full_description: String
        let created_at: Date
        let updated_at: Date
        let star_count: Int64
        let pull_count: Int64
        let permission: String?
    }

    func view(_ listed: RepositoryService.Listed) -> RepositoryView {
        view(listed.info, permission: listed.permission)
    }

    func view(_ info: RepositoryInfo, permission: Permission?) -> RepositoryView {
        RepositoryView(namespace: String(info.name.namespace), name: String(info.name.shortName), full_name: info.name.value,
                       is_private: info.isPrivate, description: info.description, full_description: info.fullDescription,
                       created_at: info.createdAt, updated_at: info.updatedAt, star_count: info.starCount, pull_count: info.pullCount,
                       permission: permission?.description)
    }


    /// `POST /api/repositories {"namespace","name","is_private","description"}`.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable {
            let namespace: String; let name: String; let is_private: Bool?; let description: String?; let full_description: String?
        }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let created = try await repositories.create(namespace: body.namespace, name: body.name, isPrivate: body.is_private,
                                                    description: body.description, fullDescription: body.full_description, by: principal)
        return try APIResponse.json(view(created), status: .created)
    }

    /// `GET /api/repositories/{namespace}`: the namespace's repositories the caller may read.
    func list(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context)
        return try APIResponse.json(try await repositories.list(namespace: try context.parameters.require("namespace"), by: principal).map(view))
    }

    /// `GET /api/repositories/{namespace}/{name}`.
    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context)
        return try APIResponse.json(view(try await repositories.show(try context.pathRepository(), by: principal)))
    }

    /// `PATCH /api/repositories/{namespace}/{name} {"is_private","description","full_description"}`.
    func update(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let is_private: Bool?; let description: String?; let full_description: String? }
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let body = try await request.decodeJSON(Body.self)
        return try APIResponse.json(view(try await repositories.update(name, isPrivate: body.is_private, description: body.description,
                                                                       fullDescription: body.full_description, by: principal)))
    }

    struct StarView: Encodable { let starred: Bool; let star_count: Int64 }

    /// `PUT|DELETE /api/repositories/{namespace}/{name}/star`: star or unstar (idempotent).
    func star(_ request: Request, context: WharfRequestContext, on: Bool) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let count = on ? try await repositories.star(name, by: principal) : try await repositories.unstar(name, by: principal)
        return try APIResponse.json(StarView(starred: on, star_count: count))
    }

    /// `GET /api/users/{username}/starred`: what the user starred that the caller may read.
    func starred(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context)
        let starred = try await repositories.starred(by: try context.parameters.require("username"), as: principal)
        return try APIResponse.json(starred.map { view($0, permission: nil) })
    }

    /// `DELETE /api/repositories/{namespace}/{name}`.
    func delete(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await repositories.delete(try context.pathRepository(), by: principal)
        return .empty(.noContent)
    }

    struct CollaboratorView: Encodable { let username: String; let permission: String }

    /// `GET /api/repositories/{namespace}/{name}/collaborators`.
    func collaborators(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let list = try await repositories.collaborators(of: try context.pathRepository(), by: principal)
        return try APIResponse.json(list.map { CollaboratorView(username: $0.account, permission: $0.permission.description) })
    }

    /// `PUT /api/repositories/{namespace}/{name}/collaborators/{username} {"permission"}`.
    func setCollaborator(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let permission: String }
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let username = try context.parameters.require("username")
        let body = try await request.decodeJSON(Body.self)
        let granted = try await repositories.setCollaborator(username, permission: body.permission, on: name, by: principal)
        return try APIResponse.json(CollaboratorView(username: username, permission: granted.description))
    }

    /// `DELETE /api/repositories/{namespace}/{name}/collaborators/{username}`.
    func removeCollaborator(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await repositories.removeCollaborator(try context.parameters.require("username"), from: try context.pathRepository(), by: principal)
        return .empty(.noContent)
    }
}
