import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// `/v2/repositories/{namespace}/{name}/tags/…` (and the `/v2/namespaces/…` form): list, show, delete.
struct HubTagRoutes: Sendable {
    let api: HubAPIRoutes

    var tags: TagService { api.hub.tags }

    func register(on table: inout HubRouteTable) {
        for base in ["/v2/repositories/:namespace/:name/tags", "/v2/namespaces/:namespace/repositories/:name/tags"] {
            table.on(.get, base) { request, context, parameters in try await self.list(request, context: context, parameters) }
            table.on(.get, base + "/:tag") { request, context, parameters in try await self.show(request, context: context, parameters) }
            table.on(.delete, base + "/:tag") { request, context, parameters in try await self.delete(request, context: context, parameters) }
        }
    }

    /// `GET …/tags/?page=&page_size=&name=&ordering=`.
    func list(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.principal(request, context: context)
        let repository = try HubAPIRoutes.repository(parameters)
        let paging = try HubPaging(request)
        let ordering = try HubAPIRoutes.choice(request, "ordering", default: TagOrdering.newest)
        let page = try await tags.list(in: repository, nameContains: request.uri.queryParameters.get("name"), ordering: ordering,
                                       offset: paging.offset, limit: paging.size, by: principal)
        try paging.check(count: page.count)
        let results = page.items.map { HubViews.tag($0, in: repository) }
        return try paging.body(request, context: context, settings: api.hub.settings, count: page.count, results: results).response()
    }

    /// `GET …/tags/{tag}/`: the tag with each image's layers.
    func show(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.principal(request, context: context)
        let repository = try HubAPIRoutes.repository(parameters)
        return try HubViews.tag(try await tags.show(try parameters.require("tag"), in: repository, by: principal), in: repository).response()
    }

    /// `DELETE …/tags/{tag}/` → 204.
    func delete(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.require(request, context: context)
        try await tags.delete(try parameters.require("tag"), in: try HubAPIRoutes.repository(parameters), by: principal)
        return .empty(.noContent)
    }
}
