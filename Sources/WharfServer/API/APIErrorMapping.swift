import Hummingbird
import NIOCore
import WharfAuth
import WharfHub

/// The JSON API's errors: every failure becomes `{"message","field"}` with its status.
enum APIErrorMapping {
    static func apiError(for error: any Error, context: WharfRequestContext) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HubError:
            let status: HTTPResponse.Status = switch error.kind {
            case .invalid: .unprocessableContent
            case .notFound: .notFound
            case .forbidden, .limitReached: .forbidden
            case .conflict: .conflict
            case .unauthenticated: .unauthorized
            case .unavailable: .serviceUnavailable
            }
            return APIError(status, error.kind == .unauthenticated ? APIError.unauthenticated.message : error.message, field: error.field)
        case Authenticator.Failure.throttled(let wait):
            var error = APIError(.tooManyRequests, "too many failed login attempts; try again in \(wait) seconds")
            error.headers[.retryAfter] = String(wait)
            return error
        case Authenticator.Failure.invalidCredentials:
            return APIError(.unauthorized, "incorrect username or password")
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "the request body is too large")
        case let error as HTTPError:
            let message: String = switch error.status {
            case .contentTooLarge: "the request body is too large"
            case .notFound: "no such endpoint"
            case .methodNotAllowed: "this method is not allowed here"
            default: error.body ?? error.status.reasonPhrase
            }
            return APIError(error.status, message)
        default:
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.internalServerError, "internal error")
        }
    }
}
