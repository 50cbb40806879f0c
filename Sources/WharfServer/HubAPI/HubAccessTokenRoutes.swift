import Foundation
import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// `/v2/access-tokens`: personal access tokens in Docker Hub's shape (the same tokens as `/api/tokens`).
struct HubAccessTokenRoutes: Sendable {
    let api: HubAPIRoutes

    var tokens: AccessTokenService { api.hub.tokens }

    func register(on table: inout HubRouteTable) {
        table.on(.get, "/v2/access-tokens") { request, context, _ in try await self.list(request, context: context) }
        table.on(.post, "/v2/access-tokens") { request, context, _ in try await self.create(request, context: context) }
        table.on(.get, "/v2/access-tokens/:uuid") { request, context, parameters in try await self.show(request, context: context, parameters) }
        table.on(.patch, "/v2/access-tokens/:uuid") { request, context, parameters in try await self.update(request, context: context, parameters) }
        table.on(.delete, "/v2/access-tokens/:uuid") { request, context, parameters in try await self.revoke(request, context: context, parameters) }
    }

    /// `GET /v2/access-tokens?page=&page_size=`: personal tokens, oldest first, with how many are active.
    func list(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await api.auth.require(request, context: context)
        let paging = try HubPaging(request)
        let personal = try await tokens.list(by: principal).filter { $0.kind == .personal }
        try paging.check(count: personal.count)
        let results = personal.dropFirst(paging.offset).prefix(paging.size).map { HubViews.accessToken($0) }
        return try paging.body(request, context: context, settings: api.hub.settings, count: personal.count, results: Array(results),
                               extra: ["active_count": .int(personal.filter(\.isActive).count)]).response()
    }

    /// `POST /v2/access-tokens {"token_label","scopes","expires_at"}` → 201 with the secret, shown only here.
    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let token_label: String; let scopes: [String]?; let expires_at: String? }
        let principal = try await api.auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        var expiry: Date? = nil
        if let raw = body.expires_at {
            guard let date = Self.parseTime(raw) else { throw HubError.invalid("expires_at", "expires_at must be an ISO 8601 time") }
            expiry = date
        }
        let origin = AccessTokenService.Origin(address: context.clientAddress, userAgent: request.headers[.userAgent])
        let (token, secret) = try await tokens.create(name: body.token_label, scopes: body.scopes, expiresAt: expiry, origin: origin,
                                                      by: principal)
        return try HubViews.accessToken(token, secret: secret).response(status: .created)
    }

    func show(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.require(request, context: context)
        return try HubViews.accessToken(try await tokens.show(try parameters.require("uuid"), by: principal)).response()
    }

    /// `PATCH /v2/access-tokens/{uuid} {"token_label","is_active"}`.
    func update(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        struct Body: Decodable { let token_label: String?; let is_active: Bool? }
        let principal = try await api.auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let token = try await tokens.update(try parameters.require("uuid"), name: body.token_label, isActive: body.is_active, by: principal)
        return try HubViews.accessToken(token).response()
    }

    /// `DELETE /v2/access-tokens/{uuid}` → 204.
    func revoke(_ request: Request, context: WharfRequestContext, _ parameters: HubParameters) async throws -> Response {
        let principal = try await api.auth.require(request, context: context)
        try await tokens.revoke(try parameters.require("uuid"), by: principal)
        return .empty(.noContent)
    }

    /// An ISO 8601 time, with or without fractional seconds, of a day that exists (no February 30th).
    static func parseTime(_ raw: String) -> Date? {
        let day = raw.prefix(10).split(separator: "-").compactMap { Int($0) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard day.count == 3, DateComponents(year: day[0], month: day[1], day: day[2]).isValidDate(in: calendar) else { return nil }
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return plain.date(from: raw) ?? fractional.date(from: raw)
    }
}
