import Foundation
import Hummingbird

/// An error of the OAuth2 grants of `POST /token` (RFC 6749 §5.2): `{"error","error_description"}`.
struct OAuthError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    static func invalidRequest(_ message: String) -> OAuthError { OAuthError(status: .badRequest, code: "invalid_request", message: message) }
    static func unsupportedGrantType(_ message: String) -> OAuthError {
        OAuthError(status: .badRequest, code: "unsupported_grant_type", message: message)
    }

    private struct Body: Encodable { let error: String; let error_description: String }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(Body(error: code, error_description: message))
        return .json(Array(body), status: status)
    }
}
