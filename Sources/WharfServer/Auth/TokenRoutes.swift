import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Docker's token service: `GET /token` (Basic or anonymous) and `POST /token` (OAuth2 password
/// and refresh-token grants). Grants what the access policy allows, possibly less than asked.
struct TokenRoutes: Sendable {
    let credentials: CredentialReader
    let hub: Hub

    func register(on router: Router<WharfRequestContext>) {
        router.get("/token") { request, context in try await self.getToken(request, context: context) }
        router.post("/token") { request, context in try await self.postToken(request, context: context) }
    }

    /// `GET /token?service=&scope=&offline_token=&client_id=`.
    func getToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var principal: Principal? = nil
        if let header = request.headers[.authorization], let basic = CredentialReader.basicCredentials(header) {
            if query.get("offline_token") == "true" {
                // `docker login`: audited, failed or not (plain pulls with stored credentials are not logins).
                principal = try await hub.audit.auditingLogin(basic.username, via: "docker") {
                    try await login(basic.username, basic.password, context: context)
                }
            } else {
                principal = try await login(basic.username, basic.password, context: context)
            }
        } else if request.headers[.authorization] != nil {
            throw RegistryError(.unauthorized, "the token endpoint takes Basic credentials")
        }
        let scopes = ResourceScope.parseAll(query.getAll("scope").map { String($0) })
        var refresh: String? = nil
        if let principal, query.get("offline_token") == "true" {
            refresh = try await credentials.authenticator.issueRefreshToken(for: principal, clientID: query.get("client_id"))
        }
        return try await tokenResponse(for: principal, scopes: scopes, refreshToken: refresh)
    }

    /// `POST /token` with an `application/x-www-form-urlencoded` body.
    func postToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let form = Self.formFields(String(buffer: body))
        let scopes = ResourceScope.parseAll(form["scope"].map { [$0] } ?? [])
        switch form["grant_type"] {
        case "password":
            guard let username = form["username"], let password = form["password"] else {
                throw OAuthError.invalidRequest("the password grant needs username and password")
            }
            let principal = try await hub.audit.auditingLogin(username, via: "oauth") {
                try await login(username, password, context: context)
            }
            var refresh: String? = nil
            if form["access_type"] == "offline" {
                refresh = try await credentials.authenticator.issueRefreshToken(for: principal, clientID: form["client_id"])
            }
            return try await tokenResponse(for: principal, scopes: scopes, refreshToken: refresh)
        case "refresh_token":
            guard let secret = form["refresh_token"],
                  let principal = try await credentials.authenticator.authenticate(token: secret, allowRefresh: true) else {
                throw RegistryError(.unauthorized, "invalid or revoked refresh token")
            }
            return try await tokenResponse(for: principal, scopes: scopes, refreshToken: secret)
        default:
            throw OAuthError.unsupportedGrantType("grant_type must be password or refresh_token")
        }
    }

    private func login(_ username: String, _ password: String, context: WharfRequestContext) async throws -> Principal {
        try await credentials.login(username: username, secret: password, context: context, challenge: nil)
    }

    /// What `principal` may do of what `scopes` ask for.
    func grant(_ scopes: [ResourceScope], to principal: Principal?) async throws -> [ResourceAccess] {
        var granted: [ResourceAccess] = []
        for scope in scopes {
            switch scope.type {
            case "repository":
                guard let name = RepositoryName(scope.name) else { continue }
                let permission = try await hub.access.permission(of: principal, on: name)
                let actions = scope.actions.filter { raw in
                    guard let permission, let action = RepositoryAction(tokenAction: raw) else { return false }
                    return permission >= action.requiredPermission
                }
                granted.append(ResourceAccess(type: "repository", name: name.value, actions: actions))
            case "registry" where scope.name == "catalog":
                // The catalog and search are filtered per caller, so everyone may ask.
                granted.append(ResourceAccess(type: "registry", name: "catalog", actions: scope.actions))
            default:
                continue
            }
        }
        return granted
    }

    private func tokenResponse(for principal: Principal?, scopes: [ResourceScope], refreshToken: String?) async throws -> Response {
        let access = try await grant(scopes, to: principal)
        let now = credentials.tokens.clock.now
        let token = try await credentials.tokens.issue(subject: principal?.name ?? "", access: access)
        struct Body: Encodable {
            let token: String
            let access_token: String
            let expires_in: Int
            let issued_at: String
            let refresh_token: String?
        }
        let body = Body(token: token, access_token: token, expires_in: Int(credentials.tokens.lifetime),
                        issued_at: ISO8601DateFormatter().string(from: now), refresh_token: refreshToken)
        return .json(Array(try JSONEncoder().encode(body)))
    }

    /// Decodes an `application/x-www-form-urlencoded` body.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
