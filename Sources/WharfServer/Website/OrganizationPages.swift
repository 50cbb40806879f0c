import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Organizations: creating one, and its page of members and teams, where owners create teams,
/// add and remove members, and give teams permissions on the organization's repositories.
struct OrganizationPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/orgs/create") { request, context in
            try await site.page(request, context: context) { visit in try createForm(visit) }
        }
        router.post("/orgs/create") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = form.text("name") ?? ""
                do {
                    _ = try await hub.organizations.create(name, by: try visit.requirePrincipal())
                    return PageRenderer.redirect("/orgs/\(name)")
                } catch let error as HubError where error.kind == .invalid || error.kind == .conflict {
                    return try createForm(visit, error: error.message, name: name)
                }
            }
        }
        router.get("/orgs/:org") { request, context in
            try await site.page(request, context: context) { try await organization(try context.parameters.require("org"), $0) }
        }
        let actions: [(String, @Sendable (WebForm, String, Principal) async throws -> String)] = [
            ("teams", { form, org, principal in
                let team = try await hub.organizations.createTeam(form.text("team") ?? "", in: org, by: principal)
                return "Team \(team.name) created."
            }),
            ("teams/delete", { form, org, principal in
                let team = form.text("team") ?? ""
                try await hub.organizations.deleteTeam(team, in: org, by: principal)
                return "Team \(team) deleted."
            }),
            ("members", { form, org, principal in
                let username = form.text("username") ?? "", team = form.text("team") ?? ""
                _ = try await hub.organizations.addMember(username, to: team, in: org, by: principal)
                return "\(username) joined \(team)."
            }),
            ("members/remove", { form, org, principal in
                let username = form.text("username") ?? "", team = form.text("team") ?? ""
                try await hub.organizations.removeMember(username, from: team, in: org, by: principal)
                return "\(username) left \(team)."
            }),
            ("permissions", { form, org, principal in
                let team = form.text("team") ?? "", repository = form.text("repository") ?? ""
                let permission = form["permission"] ?? "read"
                _ = try await hub.organizations.grant(team, permission: permission, on: repository, in: org, by: principal)
                return "\(team) has the \(permission) permission on \(org)/\(repository)."
            }),
            ("permissions/remove", { form, org, principal in
                let team = form.text("team") ?? "", repository = form.text("repository") ?? ""
                try await hub.organizations.revoke(team, on: repository, in: org, by: principal)
                return "\(team) no longer has a permission on \(org)/\(repository)."
            }),
        ]
        for (path, action) in actions {
            router.post(RouterPath("/orgs/:org/\(path)")) { request, context in
                try await site.submit(request, context: context) { visit, form in
                    let org = try context.parameters.require("org")
                    let principal = try visit.requirePrincipal()
                    do {
                        return try await organization(org, visit, notice: try await action(form, org, principal))
                    } catch let error as HubError where [.invalid, .conflict, .forbidden].contains(error.kind)
                        || (error.kind == .notFound && !error.message.hasPrefix("organization")) {
                        // The organization's page again, saying why (a member who may not manage it sees it with a 403).
                        return try await organization(org, visit, error: error.message,
                                                      status: error.kind == .forbidden ? .forbidden : .badRequest)
                    }
                }
            }
        }
    }

    func createForm(_ visit: Website.Visit, error: String? = nil, name: String = "") throws -> Response {
        _ = try visit.requirePrincipal()
        return site.renderer.page("org-create", title: "Create an organization", data: ["error": error as Any, "name": name],
                                  viewer: visit.viewer, status: error == nil ? .ok : .badRequest)
    }

    func organization(_ org: String, _ visit: Website.Visit, notice: String? = nil, error: String? = nil,
                      status: HTTPResponse.Status = .badRequest) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let organization = try await hub.organizations.show(org, by: principal)
        let canManage = try await hub.organizations.canManage(org, by: principal)
        let members = Set(organization.teams.flatMap(\.members)).sorted()
        let teams: [[String: Any]] = organization.teams.map { team in
            [
                "name": team.name, "owners": team.name == "owners",
                "members": team.members.map { ["username": $0, "team": team.name] },
                "repositories": team.repositories.sorted { $0.key < $1.key }.map { repository, permission in
                    ["name": String(repository.split(separator: "/", maxSplits: 1).last ?? ""), "full": repository,
                     "permission": permission.description, "team": team.name]
                },
            ]
        }
        return site.renderer.page("organization", title: org, data: [
            "org": org, "members": members, "teams": teams, "teamNames": organization.teams.map(\.name), "canManage": canManage,
            "notice": notice as Any, "error": error as Any, "permissions": ["read", "write", "admin"],
        ], viewer: visit.viewer, status: error == nil ? .ok : status)
    }
}
