import Hummingbird
import WharfAuth
import WharfCore
import WharfHub

/// Who is calling the JSON API or the Docker Hub API: HTTP Basic (password or access token), a
/// Bearer access token, or a Hub session token (`Bearer` or `JWT`, from `/v2/users/login` or
/// `/v2/auth/token`). Wrong credentials throw `Authenticator.Failure` or a 401, which each
/// surface's error mapping answers.
struct APIAuthentication: Sendable {
    let authenticator: Authenticator
    let sessions: HubSessionService
    let registryTokens: TokenService

    /// The caller, or nil when the request carries no credentials. With `acceptingRegistryTokens`,
    /// a registry token from `/token` also names its account, with read access only (`docker search`).
    func principal(_ request: Request, context: WharfRequestContext, acceptingRegistryTokens: Bool = false) async throws -> Principal? {
        guard let header = request.headers[.authorization] else { return nil }
        if let basic = CredentialReader.basicCredentials(header) {
            return try await authenticator.authenticate(username: basic.username, secret: basic.password, clientAddress: context.clientAddress)
        }
        guard let token = Self.bearer(header) else {
            throw APIError(.unauthorized, "unsupported authorization scheme: use Basic, Bearer or JWT")
        }
        if token.hasPrefix(SecretToken.personalPrefix) {
            if let principal = try await authenticator.authenticate(token: token) { return principal }
        } else if let principal = try await sessions.principal(session: token) {
            return principal
        } else if acceptingRegistryTokens, let claims = try? await registryTokens.verify(token) {
            guard let account = try await authenticator.principal(named: claims.sub.value) else { return nil }
            return Principal(name: account.name, isAdmin: account.isAdmin, ceiling: .read)
        }
        throw APIError(.unauthorized, "invalid, expired or revoked token")
    }

    /// The caller, who must be authenticated.
    func require(_ request: Request, context: WharfRequestContext) async throws -> Principal {
        guard let principal = try await principal(request, context: context) else { throw APIError.unauthenticated }
        return principal
    }

    /// The token of `Bearer TOKEN` or `JWT TOKEN`.
    private static func bearer(_ header: String) -> String? {
        let lowered = header.lowercased()
        for scheme in ["bearer ", "jwt "] where lowered.hasPrefix(scheme) {
            return String(header.dropFirst(scheme.count)).trimmingSpaces()
        }
        return nil
    }
}
