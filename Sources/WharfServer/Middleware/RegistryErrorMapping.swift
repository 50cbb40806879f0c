import Hummingbird
import NIOCore
import WharfCore
import WharfHub

/// The registry surface's errors: every failure becomes an OCI error body with an OCI code.
enum RegistryErrorMapping {
    static func response(for error: any Error, request: Request, context: WharfRequestContext) throws -> Response {
        try registryError(for: error, context: context).response(from: request, context: context)
    }

    static func registryError(for error: any Error, context: WharfRequestContext) -> any HTTPResponseError {
        switch error {
        case let error as RegistryError:
            return error
        case let error as OAuthError:
            return error
        case let error as HubError:
            let code: RegistryError.Code = switch error.kind {
            case .notFound: .nameUnknown
            case .unauthenticated: .unauthorized
            case .invalid: .nameInvalid
            case .forbidden, .limitReached, .conflict, .unavailable: .denied
            }
            return RegistryError(code, error.message)
        case is NIOTooManyBytesError:
            return RegistryError(RegistryError.Code("SIZE_INVALID", 413), "the request body is too large")
        case let error as HTTPError:
            let code: RegistryError.Code = switch error.status {
            case .notFound: .notFound
            case .contentTooLarge: RegistryError.Code("SIZE_INVALID", 413)
            case .methodNotAllowed: .unsupported
            default: error.status.code >= 500 ? .unknown : RegistryError.Code("UNSUPPORTED", error.status.code)
            }
            return RegistryError(code, error.body ?? error.status.reasonPhrase)
        default:
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return RegistryError(.unknown, "internal error")
        }
    }
}
