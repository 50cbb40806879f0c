import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// A repository's settings: description and README, visibility within the plan, collaborators,
/// and deletion (confirmed by typing the name). Webhook and build pages will join the navigation.
struct RepositorySettingsPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/r/:namespace/:name/settings") { request, context in
            try await site.page(request, context: context) { try await settings(try Website.repository(context), $0) }
        }
        router.post("/r/:namespace/:name/settings/description") { request, context in
            try await site.submit(request, context: context) { visit, form in
                try await act(context, visit) { name, principal in
                    _ = try await hub.repositories.update(name, isPrivate: nil, description: form["description"] ?? "",
                                                          fullDescription: form["full_description"] ?? "", by: principal)
                    return "Description and README saved."
                }
            }
        }
        router.post("/r/:namespace/:name/settings/visibility") { request, context in
            try await site.submit(request, context: context) { visit, form in
                try await act(context, visit) { name, principal in
                    let makePrivate = form["visibility"] == "private"
                    _ = try await hub.repositories.update(name, isPrivate: makePrivate, description: nil, by: principal)
                    return makePrivate ? "The repository is private." : "The repository is public."
                }
            }
        }
        router.post("/r/:namespace/:name/settings/collaborators") { request, context in
            try await site.submit(request, context: context) { visit, form in
                try await act(context, visit) { name, principal in
                    let username = form.text("username") ?? ""
                    let granted = try await hub.repositories.setCollaborator(username, permission: form["permission"] ?? "read", on: name,
                                                                             by: principal)
                    return "\(username) has the \(granted) permission."
                }
            }
        }
        router.post("/r/:namespace/:name/settings/collaborators/:username/remove") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                try await act(context, visit) { name, principal in
                    let username = try context.parameters.require("username")
                    try await hub.repositories.removeCollaborator(username, from: name, by: principal)
                    return "\(username) is no longer a collaborator."
                }
            }
        }
        router.post("/r/:namespace/:name/settings/delete") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = try Website.repository(context)
                let principal = try visit.requirePrincipal()
                guard form.text("confirm") == name.value else {
                    return try await settings(name, visit, error: "Type \(name.value) to confirm the deletion.")
                }
                try await hub.repositories.delete(name, by: principal)
                return PageRenderer.redirect("/u/\(name.namespace)")
            }
        }
    }

    /// Runs a change; the settings page again with its notice, or with the rule's refusal explained.
    private func act(_ context: WharfRequestContext, _ visit: Website.Visit,
                     _ change: (RepositoryName, Principal) async throws -> String) async throws -> Response {
        let name = try Website.repository(context)
        let principal = try visit.requirePrincipal()
        do {
            return try await settings(name, visit, notice: try await change(name, principal))
        } catch let error as HubError where [.invalid, .conflict, .limitReached].contains(error.kind)
            || (error.kind == .notFound && error.message.hasPrefix("user")) {
            return try await settings(name, visit, error: error.message)
        }
    }

    func settings(_ name: RepositoryName, _ visit: Website.Visit, notice: String? = nil, error: String? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let detail = try await hub.repositories.detail(name, by: principal)
        let collaborators = try await hub.repositories.collaborators(of: name, by: principal)
        let info = detail.listed.info
        let usage = try await hub.repositories.planUsage(of: String(name.namespace))
        var data = WebViews.repository(info, now: hub.stores.clock.now)
        data["full"] = name.value
        data["readmeSource"] = info.fullDescription
        data["maxDescription"] = RepositoryService.maxDescription
        data["maxReadme"] = RepositoryService.maxFullDescription
        data["notice"] = notice
        data["error"] = error
        data["isOrganization"] = try await hub.stores.accounts.account(String(name.namespace))?.kind == .organization
        if let usage { data["plan"] = ["used": usage.used, "limit": usage.limit, "full": usage.used >= usage.limit && !info.isPrivate] }
        data["collaborators"] = collaborators.map { ["username": $0.account, "permission": $0.permission.description] }
        data["permissions"] = ["read", "write", "admin"]
        data["nav"] = RepositoryNavigation.items(for: name, current: "settings", admin: true)
        return site.renderer.page("repository-settings", title: "Settings – \(name.value)", data: data, viewer: visit.viewer,
                                  status: error == nil ? .ok : .badRequest)
    }
}
