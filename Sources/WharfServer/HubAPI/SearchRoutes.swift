import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// `docker search HOST/term`: the v1 index endpoints the Docker engine calls, `/v1/_ping` then
/// `/v1/search?q=&n=&page=`. Results are what the caller may read (anonymous, Basic, or the
/// registry token docker fetched for `registry:catalog:search`).
struct SearchRoutes: Sendable {
    let auth: APIAuthentication
    let repositories: RepositoryService

    func register(on router: Router<WharfRequestContext>) {
        router.get("/v1/_ping") { _, _ in
            Response.json(Array(#"{"standalone":true}"#.utf8), headers: [.dockerRegistryStandalone: "true"])
        }
        router.get("/v1/search") { request, context in try await self.search(request, context: context) }
    }

    /// `GET /v1/search?q=&n=&page=` (`n`: 1 to 100, default 25, as docker's `--limit`).
    func search(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.principal(request, context: context, acceptingRegistryTokens: true)
        let query = request.uri.queryParameters.get("q") ?? ""
        guard !query.isEmpty else { throw APIError(.badRequest, "q is required: the term to search for") }
        let paging = try HubPaging(request, defaultSize: 25, sizeParameter: "n")
        if let raw = request.uri.queryParameters.get("n"), let n = Int(raw), n > HubPaging.maxSize {
            throw APIError(.badRequest, "n must be between 1 and \(HubPaging.maxSize)")
        }
        let page = try await repositories.search(query, offset: paging.offset, limit: paging.size, by: principal)
        let results: [HubJSON] = page.items.map { info in
            let official = info.name.namespace == RepositoryName.officialNamespace
            return [
                "name": .string(official ? String(info.name.shortName) : info.name.value),
                "description": .string(info.description),
                "star_count": .int(info.starCount),
                "is_official": .bool(official),
                "is_automated": false,
            ]
        }
        let body: HubJSON = [
            "num_results": .int(page.count),
            "num_pages": .int((page.count + paging.size - 1) / paging.size),
            "page": .int(paging.page),
            "page_size": .int(paging.size),
            "query": .string(query),
            "results": .array(results),
        ]
        return try body.response()
    }
}
