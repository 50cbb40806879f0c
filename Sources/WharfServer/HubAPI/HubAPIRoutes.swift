import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// The Docker Hub API (`/v2/users/login`, `/v2/repositories/…`, `/v2/access-tokens`, …) for tools
/// written against hub.docker.com. Every rule is in the hub's services; these files only speak
/// Hub's JSON. Errors are `{"detail","message"}` (see `ErrorResponseMiddleware`).
struct HubAPIRoutes: Sendable {
    let auth: APIAuthentication
    let hub: Hub
    let sessions: HubSessionService

    /// The route table (the registry routes hand it every `/v2` path that is no registry endpoint).
    func table() -> HubRouteTable {
        var table = HubRouteTable()
        table.on(.post, "/v2/users/login") { request, context, _ in try await self.login(request, context: context) }
        table.on(.post, "/v2/auth/token") { request, context, _ in try await self.accessToken(request, context: context) }
        table.on(.get, "/v2/openapi.json") { _, _, _ in Response.json(Self.document) }
        HubRepositoryRoutes(api: self).register(on: &table)
        HubTagRoutes(api: self).register(on: &table)
        HubAccessTokenRoutes(api: self).register(on: &table)
        return table
    }

    /// The Hub API's OpenAPI description, compiled in from `HubAPI/openapi.json`.
    static let document: [UInt8] = Array(EmbeddedFiles.hubOpenAPIDocument.utf8)

    /// `POST /v2/users/login {"username","password"}` → `{"token"}`.
    func login(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let username: String; let password: String }
        let body = try await request.decodeJSON(Body.self)
        let token = try await session(username: body.username, secret: body.password, context: context,
                                      lifetime: HubSessionService.loginLifetime)
        return try HubJSON.object(["token": .string(token)]).response()
    }

    /// `POST /v2/auth/token {"identifier","secret"}` → `{"access_token"}`.
    func accessToken(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let identifier: String; let secret: String }
        let body = try await request.decodeJSON(Body.self)
        let token = try await session(username: body.identifier, secret: body.secret, context: context,
                                      lifetime: HubSessionService.accessTokenLifetime)
        return try HubJSON.object(["access_token": .string(token)]).response()
    }

    private func session(username: String, secret: String, context: WharfRequestContext, lifetime: TimeInterval) async throws -> String {
        do {
            return try await sessions.login(username: username, secret: secret, clientAddress: context.clientAddress, lifetime: lifetime)
        } catch Authenticator.Failure.invalidCredentials {
            throw APIError(.unauthorized, "Incorrect authentication credentials")
        }
    }

    /// The repository `{namespace}/{name}` of the path (404 when it cannot be a name, like a missing one).
    static func repository(_ parameters: HubParameters) throws -> RepositoryName {
        let raw = "\(try parameters.require("namespace"))/\(try parameters.require("name"))"
        guard let name = RepositoryName(raw), name.value == raw else { throw HubError.notFound("repository") }
        return name
    }

    /// A query value that must be one of `Value`'s cases.
    static func choice<Value: RawRepresentable & CaseIterable>(_ request: Request, _ parameter: String, default value: Value) throws -> Value
    where Value.RawValue == String {
        guard let raw = request.uri.queryParameters.get(parameter), !raw.isEmpty else { return value }
        guard let chosen = Value(rawValue: raw) else {
            throw APIError(.badRequest, "\(parameter) must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return chosen
    }
}
