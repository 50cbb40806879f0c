import Hummingbird
import WharfCore

/// Turns every error into the shape of the surface the request addressed, each mapped in one
/// place: OCI error bodies on the registry (`/v2` registry endpoints, `/token`), Docker Hub's
/// `{"detail","message"}` on the Hub API (the other `/v2` paths, `/v1`), `{"message","field"}` on
/// the JSON API and everything else. Registry responses also carry `Docker-Distribution-API-Version`.
struct ErrorResponseMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    /// The routes' methods, to answer a known path's wrong method with 405.
    let routeMethods: RouteMethods
    /// The Docker Hub API's routes, which answer 405 for their own paths (behind the registry's catch-all).
    let hubRoutes: HubRouteTable
    /// The website, whose errors are pages.
    let website: Website

    /// Which API a path belongs to.
    enum Surface {
        case registry
        case hub
        case api
        case web

        init(path: String) {
            if path == "/token" {
                self = .registry
            } else if path == "/v2" || path.hasPrefix("/v2/") {
                self = HubRouteTable.claims(path) ? .hub : .registry
            } else if path.hasPrefix("/v1/") {
                self = .hub
            } else if path.hasPrefix("/api/") || path == "/api" || ErrorResponseMiddleware.operations.contains(path) {
                self = .api
            } else {
                self = .web
            }
        }
    }

    /// The operations endpoints, which answer like the JSON API.
    static let operations: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let surface = Surface(path: request.uri.path)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            switch surface {
            case .web:
                let visit = try await website.visit(request, context: context)
                let notFound = (error as? HTTPError)?.status == .notFound || (error as? HTTPError)?.status == .methodNotAllowed
                response = website.errorPage(notFound ? WebError.notFound : error, visit: visit, context: context)
            case .registry: response = try RegistryErrorMapping.response(for: error, request: request, context: context)
            case .api, .hub:
                var apiError = APIErrorMapping.apiError(for: error, context: context)
                if surface == .hub, request.uri.path.hasPrefix("/v2/"), error is HTTPError {
                    apiError = hubRoutes.notAnswered(request)
                } else if apiError.status == .notFound, error is HTTPError {
                    let allowed = routeMethods.allowed(for: request.uri.path)
                    if !allowed.isEmpty {
                        apiError = APIError(.methodNotAllowed, "\(request.method) is not allowed here; use \(allowed.joined(separator: ", "))")
                        apiError.headers[.allow] = allowed.joined(separator: ", ")
                    }
                }
                response = try surface == .hub ? apiError.hubResponse() : apiError.response(from: request, context: context)
            }
        }
        if surface == .registry { response.headers[.dockerDistributionAPIVersion] = "registry/2.0" }
        return response
    }
}
