import Hummingbird
import WharfCore

/// Adds `Docker-Distribution-API-Version` to every response and turns any error into the
/// OCI JSON error body; unexpected errors become `UNKNOWN` (500) without internal details.
struct RegistryResponseMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as RegistryError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let code: RegistryError.Code = switch error.status {
            case .notFound: .notFound
            case .contentTooLarge: .sizeInvalid
            case .methodNotAllowed: .unsupported
            default: error.status.code >= 500 ? .unknown : .init("BAD_REQUEST", error.status.code)
            }
            response = try RegistryError(code, error.body ?? error.status.reasonPhrase).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            response = try RegistryError(.unknown, "internal error").response(from: request, context: context)
        }
        response.headers[.dockerDistributionAPIVersion] = "registry/2.0"
        return response
    }
}
