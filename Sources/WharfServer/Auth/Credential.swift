import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub

/// What a request authenticated with.
enum Credential: Sendable {
    /// No Authorization header.
    case anonymous
    /// HTTP Basic (password or personal access token), or a bearer personal access token.
    case account(Principal)
    /// A registry token from `/token`; `principal` is nil for anonymous tokens.
    case registryToken(RegistryTokenClaims, principal: Principal?)

    var principal: Principal? {
        switch self {
        case .anonymous: nil
        case .account(let principal): principal
        case .registryToken(_, let principal): principal
        }
    }
}

/// Reads `Authorization` headers into credentials.
struct CredentialReader: Sendable {
    let authenticator: Authenticator
    let tokens: TokenService

    /// The request's credential; throws `UNAUTHORIZED` (or `TOOMANYREQUESTS`) for bad ones.
    func credential(of request: Request, context: WharfRequestContext, challenge: Challenge) async throws -> Credential {
        guard let header = request.headers[.authorization] else { return .anonymous }
        if let basic = Self.basicCredentials(header) {
            return .account(try await login(username: basic.username, secret: basic.password, context: context, challenge: challenge))
        }
        if header.lowercased().hasPrefix("bearer ") {
            let secret = String(header.dropFirst(7)).trimmingSpaces()
            if secret.hasPrefix(SecretToken.personalPrefix) {
                guard let principal = try await authenticator.authenticate(token: secret) else {
                    throw challenge.error(message: "invalid or revoked access token", invalidToken: true)
                }
                return .account(principal)
            }
            guard let claims = try? await tokens.verify(secret) else {
                throw challenge.error(message: "invalid or expired token", invalidToken: true)
            }
            let principal = try await authenticator.principal(named: claims.sub.value)
            if !claims.sub.value.isEmpty && principal == nil {
                throw challenge.error(message: "the token's account is disabled or gone", invalidToken: true)
            }
            return .registryToken(claims, principal: principal)
        }
        throw challenge.error(message: "unsupported authorization scheme")
    }

    /// Checks a username and password (or PAT), mapping failures to registry errors: a 401 (with
    /// `challenge`, when given) for wrong credentials, 429 with `Retry-After` when throttled.
    func login(username: String, secret: String, context: WharfRequestContext, challenge: Challenge?) async throws -> Principal {
        do {
            return try await authenticator.authenticate(username: username, secret: secret, clientAddress: context.clientAddress)
        } catch Authenticator.Failure.throttled(let wait) {
            throw RegistryError(.tooManyRequests, "too many failed login attempts; try again in \(wait) seconds",
                                headers: ["Retry-After": String(wait)])
        } catch Authenticator.Failure.invalidCredentials {
            throw challenge?.error(message: "incorrect username or password")
                ?? RegistryError(.unauthorized, "incorrect username or password")
        }
    }

    /// `Basic base64(user:password)`.
    static func basicCredentials(_ header: String) -> (username: String, password: String)? {
        guard header.lowercased().hasPrefix("basic ") else { return nil }
        let encoded = String(header.dropFirst(6)).trimmingSpaces()
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// The `WWW-Authenticate` challenge of a 401, pointing clients at the token endpoint.
struct Challenge: Sendable {
    let realm: String
    let service: String
    var scope: String?

    init(request: Request, context: WharfRequestContext, settings: HubSettings, scope: String? = nil) {
        let host = request.head.authority ?? "localhost"
        let scheme = context.forwardedScheme ?? (settings.usesTLS ? "https" : "http")
        realm = "\(scheme)://\(host)/token"
        service = settings.service
        self.scope = scope
    }

    func header(invalidToken: Bool = false, insufficientScope: Bool = false) -> String {
        var value = "Bearer realm=\"\(realm)\",service=\"\(service)\""
        if let scope { value += ",scope=\"\(scope)\"" }
        if invalidToken { value += ",error=\"invalid_token\"" }
        if insufficientScope { value += ",error=\"insufficient_scope\"" }
        return value
    }

    /// `UNAUTHORIZED` (401) carrying this challenge.
    func error(message: String = "authentication required", invalidToken: Bool = false, insufficientScope: Bool = false) -> RegistryError {
        RegistryError(.unauthorized, message, headers: ["WWW-Authenticate": header(invalidToken: invalidToken, insufficientScope: insufficientScope)])
    }
}
