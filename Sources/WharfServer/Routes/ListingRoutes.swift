import Foundation
import Hummingbird
import WharfCore
import WharfHub

extension RegistryRoutes {
    /// `GET /v2/<name>/tags/list[?n=&last=]`.
    func tags(_ request: Request, name: RepositoryName) async throws -> Response {
        let page = try Pagination(request, defaultLimit: nil)
        let list = try await registry.tagList(in: name)
        if page.last == nil, page.limit >= list.names.count {
            return .json(list.document)  // the whole list: encoded once per change of the repository's tags
        }
        let tags = list.page(after: page.last, limit: page.fetchLimit)
        let shown = tags.prefix(page.limit)
        let link = page.link(path: "/v2/\(name.value)/tags/list", fetched: tags.count, lastShown: shown.last)
        var headers: HTTPFields = [:]
        if let link { headers[.link] = link }
        return .json(TagList.document(repository: name, tags: shown), headers: headers)
    }

    /// `GET /v2/_catalog[?n=&last=]`.
    func catalog(_ request: Request, credential: Credential) async throws -> Response {
        let page = try Pagination(request, defaultLimit: 1000)
        let names = try await repositories.catalog(for: credential.principal, after: page.last, limit: page.fetchLimit).map(\.value)
        struct Body: Encodable { let repositories: [String] }
        let shown = Array(names.prefix(page.limit))
        let link = page.link(path: "/v2/_catalog", fetched: names.count, lastShown: shown.last)
        return try encode(Body(repositories: shown), link: link)
    }

    /// `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI index of the manifests whose subject is `digest`.
    func referrers(_ request: Request, name: RepositoryName, digest raw: String) async throws -> Response {
        let digest = try RequestValues.digest(raw)
        let artifactType = request.uri.queryParameters.get("artifactType").flatMap { $0.isEmpty ? nil : $0 }
        let descriptors = try await registry.referrers(of: digest, in: name, artifactType: artifactType)
        let index = ReferrersIndex(manifests: descriptors.map(ReferrersIndex.Entry.init))
        var headers: HTTPFields = [:]
        if artifactType != nil { headers[.ociFiltersApplied] = "artifactType" }
        let body = try RegistryRoutes.jsonEncoder.encode(index)
        return .json(Array(body), contentType: MediaType.ociIndex, headers: headers)
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    private func encode(_ value: some Encodable, link: String?) throws -> Response {
        var headers: HTTPFields = [:]
        if let link { headers[.link] = link }
        return .json(Array(try RegistryRoutes.jsonEncoder.encode(value)), headers: headers)
    }
}

/// The `n`/`last` pagination of tag lists and the catalog.
struct Pagination {
    /// The largest page served; larger `n` are clamped (and a `Link` header tells the client to go on).
    static let maxLimit = 10_000

    let limit: Int
    let last: String?

    init(_ request: Request, defaultLimit: Int?) throws(RegistryError) {
        let query = request.uri.queryParameters
        if let raw = query.get("n") {
            guard let n = Int(raw), n >= 0 else {
                throw RegistryError(.paginationNumberInvalid, "n must be a non-negative integer", detail: ["n": String(raw.prefix(50))])
            }
            limit = min(n, Self.maxLimit)
        } else {
            limit = defaultLimit ?? Int.max
        }
        last = query.get("last").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// One more than the page, to know whether there is a next page.
    var fetchLimit: Int { limit == Int.max ? Int.max - 1 : limit + 1 }

    /// The `Link` header for the next page, when there is one.
    func link(path: String, fetched: Int, lastShown: String?) -> String? {
        guard fetched > limit, let lastShown else { return nil }
        let escaped = lastShown.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "=", "+"])) ?? lastShown
        return "<\(path)?n=\(limit)&last=\(escaped)>; rel=\"next\""
    }
}

/// The body of a referrers response.
struct ReferrersIndex: Encodable {
    struct Entry: Encodable {
        let mediaType: String
        let digest: String
        let size: Int64
        let artifactType: String?
        let annotations: [String: String]?

        init(_ descriptor: Descriptor) {
            mediaType = descriptor.mediaType
            digest = descriptor.digest.description
            size = descriptor.size
            artifactType = descriptor.artifactType
            annotations = descriptor.annotations
        }
    }

    var schemaVersion = 2
    var mediaType = MediaType.ociIndex
    let manifests: [Entry]
}
