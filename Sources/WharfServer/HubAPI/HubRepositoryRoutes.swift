import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// `/v2/repositories/…` and `/v2/namespaces/…/repositories`: list, create, show, change, delete.
struct HubRepositoryRoutes: Sendable {
    let api: HubAPIRoutes

    var repositories: RepositoryService { api.hub.repositories }

    func register(on table: inout HubRouteTable) {
        table.on(.post, "/v2/repositories") { request, context, _ in try await self.create(request, context: context) }
        for list in ["/v2/repositories/:namespace", "/v2/namespaces/:namespace/repositories"] {
            table.on(.get, list) { request, context, parameters in try await self.list(request, context: context, parameters) }
        }
        for one in ["/v2/repositories/:namespace/:name", "/v2/namespaces/:namespace/repositories/:name"] {
            table.on(.get, one) { request, context, parameters in try await self.show(request, context: context, parameters) }
            table.on(.patch, one) { request, context, parameters in try await self.update(request, context: context, parameters) }
            table.on(.delete, one) { request, context, parameters in try await self.delete(request, context: context, parameters) }
        }
    }

    /// `GET /v2/repositories/{namespace}/?page=&page_size=&ordering=`.
    func list(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.principal(request, context: context)
        let paging = try HubPaging(request)
        let ordering = try HubAPIRoutes.choice(request, "ordering", default: RepositoryOrdering.lastUpdatedDescending)
        let page = try await repositories.page(namespace: try parameters.require("namespace"), ordering: ordering,
                                               offset: paging.offset, limit: paging.size, by: principal)
        try paging.check(count: page.count)
        let types = try await repositories.mediaTypes(of: page.items.map(\.name))
        let results = page.items.map { HubJSON.object(HubViews.summary($0, mediaTypes: types[$0.name] ?? [])) }
        return try paging.body(request, context: context, settings: api.hub.settings, count: page.count, results: results).response()
    }

    /// `GET /v2/repositories/{namespace}/{name}/`.
    func show(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.principal(request, context: context)
        return try HubViews.detail(try await repositories.detail(try HubAPIRoutes.repository(parameters), by: principal)).response()
    }

    /// `POST /v2/repositories/ {"namespace","name","description","full_description","is_private"}`.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable {
            let namespace: String
            let name: String
            let description: String?
            let full_description: String?
            let is_private: Bool?
        }
        let principal = try await api.auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let created = try await repositories.create(namespace: body.namespace, name: body.name, isPrivate: body.is_private,
                                                    description: body.description, fullDescription: body.full_description, by: principal)
        return try HubViews.detail(try await repositories.detail(created.info.name, by: principal)).response(status: .created)
    }

    /// `PATCH /v2/repositories/{namespace}/{name}/ {"description","full_description","is_private"}`.
    func update(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        struct Body: Decodable { let description: String?; let full_description: String?; let is_private: Bool? }
        let principal = try await api.auth.require(request, context: context)
        let name = try HubAPIRoutes.repository(parameters)
        let body = try await request.decodeJSON(Body.self)
        _ = try await repositories.update(name, isPrivate: body.is_private, description: body.description,
                                          fullDescription: body.full_description, by: principal)
        return try HubViews.detail(try await repositories.detail(name, by: principal)).response()
    }

    /// `DELETE /v2/repositories/{namespace}/{name}/` → 202.
    func delete(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.require(request, context: context)
        try await repositories.delete(try HubAPIRoutes.repository(parameters), by: principal)
        return .empty(.accepted)
    }
}
