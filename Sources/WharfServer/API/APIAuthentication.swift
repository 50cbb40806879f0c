import Hummingbird
import WharfAuth
import WharfCore

/// Who is calling the JSON API: HTTP Basic (password or access token) or a Bearer access token.
/// Wrong credentials throw `Authenticator.Failure`, which the API's error mapping answers.
struct APIAuthentication: Sendable {
    let authenticator: Authenticator

    /// The caller, or nil when the request carries no credentials.
    func principal(_ request: Request, context: WharfRequestContext) async throws -> Principal? {
        guard let header = request.headers[.authorization] else { return nil }
        if let basic = CredentialReader.basicCredentials(header) {
            return try await authenticator.authenticate(username: basic.username, secret: basic.password, clientAddress: context.clientAddress)
        }
        if header.lowercased().hasPrefix("bearer "),
           let principal = try await authenticator.authenticate(token: String(header.dropFirst(7)).trimmingSpaces()) {
            return principal
        }
        throw APIError(.unauthorized, "invalid or revoked access token")
    }

    /// The caller, who must be authenticated.
    func require(_ request: Request, context: WharfRequestContext) async throws -> Principal {
        guard let principal = try await principal(request, context: context) else { throw APIError.unauthenticated }
        return principal
    }
}
