import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Organizations and their teams. Every rule is in `OrganizationService`; this file only speaks JSON.
struct OrganizationRoutes: Sendable {
    let auth: APIAuthentication
    let organizations: OrganizationService

    func register(on router: Router<WharfRequestContext>) {
        router.post("/api/orgs") { request, context in try await self.create(request, context: context) }
        router.get("/api/orgs") { request, context in try await self.mine(request, context: context) }
        router.get("/api/orgs/:org") { request, context in try await self.show(request, context: context) }
        router.patch("/api/orgs/:org") { request, context in try await self.update(request, context: context) }
        router.get("/api/orgs/:org/teams") { request, context in try await self.teams(request, context: context) }
        router.post("/api/orgs/:org/teams") { request, context in try await self.createTeam(request, context: context) }
        router.delete("/api/orgs/:org/teams/:team") { request, context in try await self.deleteTeam(request, context: context) }
        router.put("/api/orgs/:org/teams/:team/members/:username") { request, context in try await self.addMember(request, context: context) }
        router.delete("/api/orgs/:org/teams/:team/members/:username") { request, context in try await self.removeMember(request, context: context) }
        router.put("/api/orgs/:org/teams/:team/repositories/:name") { request, context in try await self.grant(request, context: context) }
        router.delete("/api/orgs/:org/teams/:team/repositories/:name") { request, context in try await self.revoke(request, context: context) }
    }

    struct TeamView: Encodable {
        let name: String
        let members: [String]
        let repositories: [String: String]
    }

    func view(_ team: Team) -> TeamView {
        TeamView(name: team.name, members: team.members, repositories: team.repositories.mapValues(\.description))
    }

    struct OrganizationView: Encodable {
        let name: String
        let default_private: Bool
        let private_repo_limit: Int?
        let teams: [TeamView]
    }

    func view(_ org: OrganizationService.Organization) -> OrganizationView {
        OrganizationView(name: org.account.name, default_private: org.account.defaultPrivate,
                         private_repo_limit: org.account.privateRepoLimit, teams: org.teams.map(view))
    }

    private func org(_ context: WharfRequestContext) throws -> String { try context.parameters.require("org") }
    private func team(_ context: WharfRequestContext) throws -> String { try context.parameters.require("team") }

    /// `POST /api/orgs {"name"}`.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let name: String }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        return try APIResponse.json(view(try await organizations.create(body.name, by: principal)), status: .created)
    }

    /// `GET /api/orgs`: the organizations the caller belongs to.
    func mine(_ request: Request, context: WharfRequestContext) async throws -> Response {
        try APIResponse.json(try await organizations.memberships(of: try await auth.require(request, context: context)))
    }

    /// `GET /api/orgs/{org}`: for its members.
    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(view(try await organizations.show(try org(context), by: principal)))
    }

    /// `PATCH /api/orgs/{org} {"default_private"}`.
    func update(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let default_private: Bool? }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        return try APIResponse.json(view(try await organizations.update(try org(context), defaultPrivate: body.default_private, by: principal)))
    }

    /// `GET /api/orgs/{org}/teams`.
    func teams(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await organizations.teams(of: try org(context), by: principal).map(view))
    }

    /// `POST /api/orgs/{org}/teams {"name"}`.
    func createTeam(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let name: String }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        return try APIResponse.json(view(try await organizations.createTeam(body.name, in: try org(context), by: principal)), status: .created)
    }

    /// `DELETE /api/orgs/{org}/teams/{team}` (not the owners team).
    func deleteTeam(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await organizations.deleteTeam(try team(context), in: try org(context), by: principal)
        return .empty(.noContent)
    }

    /// `PUT /api/orgs/{org}/teams/{team}/members/{username}`.
    func addMember(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let team = try await organizations.addMember(try context.parameters.require("username"), to: try team(context),
                                                     in: try org(context), by: principal)
        return try APIResponse.json(view(team))
    }

    /// `DELETE /api/orgs/{org}/teams/{team}/members/{username}` (an organization keeps at least one owner).
    func removeMember(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await organizations.removeMember(try context.parameters.require("username"), from: try team(context),
                                             in: try org(context), by: principal)
        return .empty(.noContent)
    }

    /// `PUT /api/orgs/{org}/teams/{team}/repositories/{name} {"permission"}`.
    func grant(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let permission: String }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let team = try await organizations.grant(try team(context), permission: body.permission, on: try context.parameters.require("name"),
                                                 in: try org(context), by: principal)
        return try APIResponse.json(view(team))
    }

    /// `DELETE /api/orgs/{org}/teams/{team}/repositories/{name}`.
    func revoke(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await organizations.revoke(try team(context), on: try context.parameters.require("name"), in: try org(context), by: principal)
        return .empty(.noContent)
    }
}
