import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// A repository's page (README, pull command, stars), starring, and creating a repository.
struct RepositoryPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/r/:namespace/:name") { request, context in
            try await site.page(request, context: context) { try await repository(try Website.repository(context), request, $0) }
        }
        router.get("/_/:name") { request, context in
            try await site.page(request, context: context) { try await repository(try Website.repository(context, official: true), request, $0) }
        }
        router.post("/r/:namespace/:name/star") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = try Website.repository(context)
                if form["star"] == "off" {
                    _ = try await hub.repositories.unstar(name, by: try visit.requirePrincipal())
                } else {
                    _ = try await hub.repositories.star(name, by: try visit.requirePrincipal())
                }
                return PageRenderer.redirect(WebViews.url(of: name))
            }
        }
        router.get("/repositories/create") { request, context in try await site.page(request, context: context) { try await createForm($0) } }
        router.post("/repositories/create") { request, context in try await site.submit(request, context: context, create) }
    }

    /// The host and port clients pull from, as this request reached us.
    static func registryHost(_ request: Request) -> String {
        request.head.authority ?? "localhost:5000"
    }

    func repository(_ name: RepositoryName, _ request: Request, _ visit: Website.Visit) async throws -> Response {
        let detail = try await hub.repositories.detail(name, by: visit.principal)
        let info = detail.listed.info
        let now = hub.stores.clock.now
        let recent = try await hub.tags.list(in: name, nameContains: nil, ordering: .newest, offset: 0, limit: 5, by: visit.principal)
        let host = Self.registryHost(request)
        let pullName = name.namespace == RepositoryName.officialNamespace ? String(name.shortName) : name.value
        var data = WebViews.repository(info, now: now)
        data["readme"] = info.fullDescription.isEmpty ? nil : site.markdown.html(info.fullDescription)
        data["pull"] = "docker pull \(host)/\(pullName)"
        data["starred"] = detail.hasStarred
        data["canStar"] = visit.principal != nil
        data["admin"] = detail.listed.permission >= .admin
        data["tab"] = ["overview": true]
        data["tagCount"] = recent.count
        data["tags"] = recent.items.map { tag -> [String: Any] in
            ["name": tag.name, "pushed": WebViews.time(tag.pushedAt, now: now) as Any, "size": WebViews.size(tag.fullSize),
             "url": "\(WebViews.url(of: name))/tags/\(tag.name)"]
        }
        data["nav"] = RepositoryNavigation.items(for: name, current: "overview", admin: detail.listed.permission >= .admin)
        return site.renderer.page("repository", title: pullName, data: data, viewer: visit.viewer)
    }

    func createForm(_ visit: Website.Visit, error: String? = nil, values: [String: String] = [:]) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let namespaces = [principal.name] + (try await hub.organizations.memberships(of: principal))
        let chosen = values["namespace"] ?? principal.name
        return site.renderer.page("repository-create", title: "Create a repository", data: [
            "namespaces": namespaces.map { ["name": $0, "selected": $0 == chosen] },
            "error": error as Any, "values": values, "private": values["visibility"] == "private",
        ], viewer: visit.viewer, status: error == nil ? .ok : .badRequest)
    }

    func create(_ visit: Website.Visit, _ form: WebForm) async throws -> Response {
        let values = ["namespace": form.text("namespace") ?? "", "name": form.text("name") ?? "",
                      "description": form.text("description") ?? "", "visibility": form["visibility"] ?? "public"]
        do {
            let created = try await hub.repositories.create(namespace: values["namespace"]!, name: values["name"]!,
                                                            isPrivate: values["visibility"] == "private",
                                                            description: values["description"], by: try visit.requirePrincipal())
            return PageRenderer.redirect(WebViews.url(of: created.info.name))
        } catch let error as HubError where error.kind != .notFound && error.kind != .unauthenticated {
            return try await createForm(visit, error: error.message, values: values)
        }
    }
}

/// The tabs of a repository's pages; webhooks and builds add theirs here.
enum RepositoryNavigation {
    static func items(for name: RepositoryName, current: String, admin: Bool) -> [[String: Any]] {
        let base = WebViews.url(of: name)
        var items: [(String, String, String)] = [("overview", "Overview", base), ("tags", "Tags", "\(base)/tags")]
        if admin {
            items.append(("builds", "Builds", "/r/\(name.value)/builds"))
            items.append(("webhooks", "Webhooks", "/r/\(name.value)/webhooks"))
            items.append(("settings", "Settings", "/r/\(name.value)/settings"))
        }
        return items.map { ["key": $0.0, "label": $0.1, "url": $0.2, "current": $0.0 == current] }
    }
}
