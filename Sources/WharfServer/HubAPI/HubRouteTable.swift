import Hummingbird

/// The Docker Hub API's routes under `/v2`, which share the prefix with the registry API: the
/// registry routes catch every `/v2` path and hand to this table those that are no registry
/// endpoint and start with one of its roots (`/v2/repositories/…`); a registry endpoint wins
/// (`/v2/repositories/ns/app/tags/list` lists the tags of the repository `repositories/ns/app`).
/// Paths match with or without their trailing slash; a known path with another method answers
/// 405 with `Allow`.
struct HubRouteTable: Sendable {
    typealias Handler = @Sendable (Request, WharfRequestContext, HubParameters) async throws -> Response

    private struct Route: Sendable {
        let method: HTTPRequest.Method
        let pattern: [String]
        let handler: Handler
    }

    private var routes: [Route] = []

    /// The first segments after `/v2/` of the Hub API's paths.
    static let roots: Set<Substring> = ["users", "auth", "repositories", "namespaces", "access-tokens", "openapi.json"]

    /// Whether `path` belongs to the Hub API rather than the registry.
    static func claims(_ path: String) -> Bool {
        let segments = path.split(separator: "/", maxSplits: 2)
        guard segments.count >= 2, segments[0] == "v2", roots.contains(segments[1]) else { return false }
        do {
            return try RegistryPath.parse(path) == nil
        } catch {
            return false  // a registry path with a bad repository name: the registry's NAME_INVALID
        }
    }

    /// Adds a route; `path` segments starting with `:` are parameters.
    mutating func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        precondition(Self.roots.contains(path.split(separator: "/").dropFirst().first ?? ""), "\(path) is outside the Hub API's roots")
        routes.append(Route(method: method, pattern: path.split(separator: "/").map(String.init), handler: handler))
    }

    /// Every route as (path, method), for the OpenAPI document's agreement test.
    var paths: [(path: String, method: String)] {
        routes.map { ("/" + $0.pattern.joined(separator: "/"), $0.method.rawValue) }
    }

    func respond(to request: Request, context: WharfRequestContext) async throws -> Response {
        let segments = request.uri.path.split(separator: "/").map(String.init)
        for route in routes where route.method == request.method {
            if let parameters = Self.match(route.pattern, segments) { return try await route.handler(request, context, parameters) }
        }
        throw notAnswered(request)
    }

    /// 405 with `Allow` when the path is known with other methods, else 404.
    func notAnswered(_ request: Request) -> APIError {
        let segments = request.uri.path.split(separator: "/").map(String.init)
        let allowed = Set(routes.filter { Self.match($0.pattern, segments) != nil }.map(\.method.rawValue)).sorted()
        guard !allowed.isEmpty else { return APIError(.notFound, "no such endpoint") }
        var error = APIError(.methodNotAllowed, "\(request.method) is not allowed here; use \(allowed.joined(separator: ", "))")
        error.headers[.allow] = allowed.joined(separator: ", ")
        return error
    }

    private static func match(_ pattern: [String], _ segments: [String]) -> HubParameters? {
        guard pattern.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (expected, actual) in zip(pattern, segments) {
            if expected.hasPrefix(":") {
                values[String(expected.dropFirst())] = actual.removingPercentEncoding ?? actual
            } else if expected != actual {
                return nil
            }
        }
        return HubParameters(values: values)
    }
}

/// The path parameters of a Hub route.
struct HubParameters: Sendable {
    let values: [String: String]

    func require(_ name: String) throws -> String {
        guard let value = values[name] else { throw APIError(.notFound, "no such endpoint") }
        return value
    }
}
