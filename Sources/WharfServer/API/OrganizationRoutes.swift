import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfMetadata

/// Organizations and their teams. Any user may create an organization and becomes its owner;
/// owners (and administrators) manage teams, members and team permissions.
struct OrganizationRoutes: Sendable {
    let auth: APIAuthentication
    let accounts: any AccountStore

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

    /// The organization of the path, which the caller must own (or administer the server).
    private func owned(_ request: Request, _ context: WharfRequestContext) async throws -> (String, Principal) {
        let principal = try await auth.require(request, context: context)
        let org = try context.parameters.require("org")
        guard let account = try await accounts.account(org), account.kind == .organization else { throw APIError.notFound("organization") }
        let owners = try await accounts.teams(in: org).first { $0.name == TeamName.owners.value }
        guard principal.isAdmin || owners?.members.contains(principal.name) == true else {
            if try await accounts.organizations(of: principal.name).contains(org) { throw APIError(.forbidden, "only owners of \(org) may do this") }
            throw APIError.notFound("organization")
        }
        guard principal.ceiling == nil || principal.ceiling == .admin else {
            throw APIError(.forbidden, "this access token's scope does not allow managing organizations")
        }
        return (org, principal)
    }

    private func team(_ context: WharfRequestContext) throws -> TeamName {
        let raw = try context.parameters.require("team")
        guard let team = TeamName(raw) else { throw APIError.invalid("name", "team names are 1 to 30 of a-z, 0-9, - and _") }
        return team
    }

    /// `POST /api/orgs {"name"}`.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let name: String }
        let principal = try await auth.require(request, context: context)
        guard principal.ceiling == nil || principal.ceiling == .admin else {
            throw APIError(.forbidden, "this access token's scope does not allow creating organizations")
        }
        let body = try await request.decodeJSON(Body.self)
        guard AccountName.isWellFormed(body.name) else {
            throw APIError.invalid("name", "organization names must be 4 to 30 lowercase letters and digits")
        }
        guard AccountName(body.name) != nil else { throw APIError.invalid("name", "the name \(body.name) is reserved") }
        do {
            try await accounts.createOrganization(body.name, owner: principal.name)
        } catch AccountStoreError.exists {
            throw APIError(.conflict, "the name \(body.name) is taken", field: "name")
        }
        return try APIResponse.json(try await organizationView(body.name), status: .created)
    }

    struct OrganizationView: Encodable {
        let name: String
        let default_private: Bool
        let private_repo_limit: Int?
        let teams: [TeamView]
    }

    private func organizationView(_ org: String) async throws -> OrganizationView {
        let account = try await accounts.account(org)
        return OrganizationView(name: org, default_private: account?.defaultPrivate ?? false,
                                private_repo_limit: account?.privateRepoLimit, teams: try await accounts.teams(in: org).map(view))
    }

    /// `GET /api/orgs`: the organizations the caller belongs to.
    func mine(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await accounts.organizations(of: principal.name))
    }

    /// `GET /api/orgs/{org}`: for its members.
    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let org = try context.parameters.require("org")
        let memberships = try await accounts.organizations(of: principal.name)
        guard principal.isAdmin || memberships.contains(org) else {
            throw APIError.notFound("organization")
        }
        return try APIResponse.json(try await organizationView(org))
    }

    /// `PATCH /api/orgs/{org} {"default_private"}`.
    func update(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let default_private: Bool? }
        let (org, _) = try await owned(request, context)
        let body = try await request.decodeJSON(Body.self)
        _ = try await accounts.updateAccount(org, AccountChanges(defaultPrivate: body.default_private))
        return try APIResponse.json(try await organizationView(org))
    }

    /// `GET /api/orgs/{org}/teams`.
    func teams(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let (org, _) = try await owned(request, context)
        return try APIResponse.json(try await accounts.teams(in: org).map(view))
    }

    /// `POST /api/orgs/{org}/teams {"name"}`.
    func createTeam(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let name: String }
        let (org, _) = try await owned(request, context)
        let body = try await request.decodeJSON(Body.self)
        guard let team = TeamName(body.name) else { throw APIError.invalid("name", "team names are 1 to 30 of a-z, 0-9, - and _") }
        do {
            try await accounts.createTeam(team, in: org)
        } catch AccountStoreError.exists {
            throw APIError(.conflict, "the team \(team) exists", field: "name")
        }
        return try APIResponse.json(TeamView(name: team.value, members: [], repositories: [:]), status: .created)
    }

    /// `DELETE /api/orgs/{org}/teams/{team}` (not the owners team).
    func deleteTeam(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let (org, _) = try await owned(request, context)
        let team = try team(context)
        guard team != .owners else { throw APIError(.forbidden, "the owners team cannot be deleted") }
        guard try await accounts.deleteTeam(team, in: org) else { throw APIError.notFound("team") }
        return .empty(.noContent)
    }

    /// `PUT /api/orgs/{org}/teams/{team}/members/{username}`.
    func addMember(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let (org, _) = try await owned(request, context)
        let team = try team(context)
        let username = try context.parameters.require("username")
        guard let account = try await accounts.account(username), account.kind == .user else {
            throw APIError.invalid("username", "no user named \(username)")
        }
        do {
            try await accounts.addTeamMember(account.name, to: team, in: org)
        } catch AccountStoreError.notFound {
            throw APIError.notFound("team")
        }
        return try APIResponse.json(view(try await accounts.teams(in: org).first { $0.name == team.value }!))
    }

    /// `DELETE /api/orgs/{org}/teams/{team}/members/{username}` (an organization keeps at least one owner).
    func removeMember(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let (org, _) = try await owned(request, context)
        let team = try team(context)
        let username = try context.parameters.require("username")
        if team == .owners, let owners = try await accounts.teams(in: org).first(where: { $0.name == team.value }),
           owners.members == [username] {
            throw APIError(.forbidden, "an organization needs at least one owner")
        }
        guard try await accounts.removeTeamMember(username, from: team, in: org) else { throw APIError.notFound("team member") }
        return .empty(.noContent)
    }

    /// `PUT /api/orgs/{org}/teams/{team}/repositories/{name} {"permission"}`.
    func grant(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let permission: String }
        let (org, _) = try await owned(request, context)
        let team = try team(context)
        let raw = try context.parameters.require("name")
        guard let repository = RepositoryName("\(org)/\(raw)") else { throw APIError.invalid("name", "invalid repository name \(raw)") }
        let body = try await request.decodeJSON(Body.self)
        guard let permission = Permission(name: body.permission) else {
            throw APIError.invalid("permission", "permission must be read, write or admin")
        }
        do {
            try await accounts.setTeamPermission(permission, on: repository.value, for: team, in: org)
        } catch AccountStoreError.notFound {
            throw APIError.notFound("team")
        }
        return try APIResponse.json(view(try await accounts.teams(in: org).first { $0.name == team.value }!))
    }

    /// `DELETE /api/orgs/{org}/teams/{team}/repositories/{name}`.
    func revoke(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let (org, _) = try await owned(request, context)
        let team = try team(context)
        let raw = try context.parameters.require("name")
        guard try await accounts.removeTeamPermission(on: "\(org)/\(raw)", for: team, in: org) else { throw APIError.notFound("permission") }
        return .empty(.noContent)
    }
}
