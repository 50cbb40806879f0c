import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// The front page (official images, popular repositories), search, and a namespace's repositories.
struct ExplorePages: Sendable {
    let site: Website

    var hub: Hub { site.hub }
    static let pageSize = 25

    func register(on router: Router<WharfRequestContext>) {
        router.get("/") { request, context in try await site.page(request, context: context) { try await explore($0) } }
        router.get("/search") { request, context in try await site.page(request, context: context) { try await search(request, $0) } }
        router.get("/u/:namespace") { request, context in
            try await site.page(request, context: context) { try await namespace(request, context, $0) }
        }
    }

    func explore(_ visit: Website.Visit) async throws -> Response {
        let now = hub.stores.clock.now
        let (official, popular) = try await hub.repositories.explore(limit: 12)
        return site.renderer.page("explore", title: "Explore", data: [
            "official": official.map { WebViews.repository($0, now: now) },
            "popular": popular.map { WebViews.repository($0, now: now) },
        ], viewer: visit.viewer)
    }

    func search(_ request: Request, _ visit: Website.Visit) async throws -> Response {
        let query = request.uri.queryParameters.get("q") ?? ""
        let page = max(1, min(Int(request.uri.queryParameters.get("page") ?? "") ?? 1, 100_000))
        let now = hub.stores.clock.now
        let results = query.isEmpty ? Page(count: 0, items: [])
            : try await hub.repositories.search(query, offset: (page - 1) * Self.pageSize, limit: Self.pageSize, by: visit.principal)
        return site.renderer.page("search", title: query.isEmpty ? "Search" : "\(query) – Search", data: [
            "query": query, "searched": !query.isEmpty, "count": results.count,
            "countText": WebViews.counted(results.count, "result", "results"),
            "results": results.items.map { WebViews.repository($0, now: now) },
            "pager": WebViews.pager(path: "/search", query: ["q": query], page: page, pageSize: Self.pageSize, count: results.count),
        ], viewer: visit.viewer)
    }

    func namespace(_ request: Request, _ context: WharfRequestContext, _ visit: Website.Visit) async throws -> Response {
        let namespace = try context.parameters.require("namespace")
        let page = max(1, min(Int(request.uri.queryParameters.get("page") ?? "") ?? 1, 100_000))
        let listed = try await hub.repositories.page(namespace: namespace, ordering: .lastUpdatedDescending,
                                                     offset: (page - 1) * Self.pageSize, limit: Self.pageSize, by: visit.principal)
        let now = hub.stores.clock.now
        let isOrganization = try await hub.stores.accounts.account(namespace)?.kind == .organization
        // Storage and quota, for the namespace's user, its organization's members and administrators.
        let usage = try? await hub.storagePolicies.usage(of: namespace, by: visit.principal)
        return site.renderer.page("namespace", title: namespace, data: [
            "namespace": namespace, "organization": isOrganization, "own": visit.principal?.name == namespace,
            "storageText": usage.map(WebViews.storage) as Any,
            "count": listed.count, "countText": WebViews.counted(listed.count, "repository", "repositories"), "repositories": listed.items.map { WebViews.repository($0, now: now) },
            "pager": WebViews.pager(path: "/u/\(namespace)", query: [:], page: page, pageSize: Self.pageSize, count: listed.count),
        ], viewer: visit.viewer)
    }
}
