import Foundation
import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// Webhooks of repositories (`/api/repositories/{ns}/{name}/webhooks…`) and organizations
/// (`/api/orgs/{org}/webhooks…`), and the receivers' callback. Every rule is in `WebhookService`.
struct WebhookRoutes: Sendable {
    let auth: APIAuthentication
    let webhooks: WebhookService

    func register(on router: Router<WharfRequestContext>) {
        for prefix in ["/api/repositories/:namespace/:name/webhooks", "/api/orgs/:org/webhooks"] {
            router.get(RouterPath(prefix)) { request, context in try await self.list(request, context: context) }
            router.post(RouterPath(prefix)) { request, context in try await self.create(request, context: context) }
            router.get(RouterPath("\(prefix)/:id")) { request, context in try await self.show(request, context: context) }
            router.patch(RouterPath("\(prefix)/:id")) { request, context in try await self.update(request, context: context) }
            router.delete(RouterPath("\(prefix)/:id")) { request, context in try await self.delete(request, context: context) }
            router.post(RouterPath("\(prefix)/:id/test")) { request, context in try await self.test(request, context: context) }
            router.get(RouterPath("\(prefix)/:id/deliveries")) { request, context in try await self.deliveries(request, context: context) }
            router.get(RouterPath("\(prefix)/:id/deliveries/:delivery")) { request, context in
                try await self.delivery(request, context: context)
            }
            router.post(RouterPath("\(prefix)/:id/deliveries/:delivery/redeliver")) { request, context in
                try await self.redeliver(request, context: context)
            }
        }
        router.post("/api/webhook-callbacks/:delivery") { request, context in try await self.callback(request, context: context) }
    }

    /// The scope the path names (404 when the repository name cannot exist).
    private func scope(_ context: WharfRequestContext) throws -> WebhookScope {
        if let org = context.parameters.get("org") { return .organization(org) }
        return .repository(try context.pathRepository())
    }

    private func id(_ context: WharfRequestContext) throws -> Int64 {
        guard let id = Int64(try context.parameters.require("id")) else { throw HubError.notFound("webhook") }
        return id
    }

    /// A create or change body; `secret: null` removes the secret.
    struct Body: Decodable {
        let name: String?
        let url: String?
        let secret: String??
        let events: [String]?
        let format: String?
        let enabled: Bool?

        enum CodingKeys: String, CodingKey { case name, url, secret, events, format, enabled }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            url = try c.decodeIfPresent(String.self, forKey: .url)
            secret = c.contains(.secret) ? .some(try c.decodeNil(forKey: .secret) ? nil : try c.decode(String.self, forKey: .secret)) : nil
            events = try c.decodeIfPresent([String].self, forKey: .events)
            format = try c.decodeIfPresent(String.self, forKey: .format)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled)
        }

        var draft: WebhookService.Draft {
            WebhookService.Draft(name: name, url: url, secret: secret.map { $0 ?? "" }, events: events, format: format, enabled: enabled)
        }
    }

    func list(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(try await webhooks.list(try scope(context), by: principal).map(WebhookView.init))
    }

    func create(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let scope = try scope(context)
        let body = try await request.decodeJSON(Body.self, nullable: ["secret"])
        let created = try await webhooks.create(in: scope, body.draft, by: principal)
        return try APIResponse.json(WebhookView(webhook: created), status: .created)
    }

    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(WebhookView(webhook: try await webhooks.show(try id(context), in: try scope(context), by: principal)))
    }

    func update(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let scope = try scope(context)
        let id = try id(context)
        let body = try await request.decodeJSON(Body.self, nullable: ["secret"])
        return try APIResponse.json(WebhookView(webhook: try await webhooks.update(id, in: scope, body.draft, by: principal)))
    }

    func delete(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await webhooks.delete(try id(context), in: try scope(context), by: principal)
        return .empty(.noContent)
    }

    func test(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let queued = try await webhooks.sendTest(try id(context), in: try scope(context), by: principal)
        return try APIResponse.json(WebhookDeliveryView(record: queued), status: .accepted)
    }

    func deliveries(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let raw = request.uri.queryParameters.get("limit")
        guard let limit = raw.map({ Int($0) }) ?? 50, (1...100).contains(limit) else {
            throw APIError.invalid("limit", "limit must be a number from 1 to 100")
        }
        let records = try await webhooks.deliveries(of: try id(context), in: try scope(context), limit: limit, by: principal)
        return try APIResponse.json(records.map { WebhookDeliveryView(record: $0) })
    }

    func delivery(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let record = try await webhooks.delivery(try context.parameters.require("delivery"), of: try id(context), in: try scope(context),
                                                 by: principal)
        return try APIResponse.json(WebhookDeliveryView(record: record, includeBody: true))
    }

    func redeliver(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let record = try await webhooks.redeliver(try context.parameters.require("delivery"), of: try id(context),
                                                  in: try scope(context), by: principal)
        return try APIResponse.json(WebhookDeliveryView(record: record), status: .accepted)
    }

    /// `POST /api/webhook-callbacks/{delivery}`: Docker Hub's validation callback; the delivery id is the credential.
    func callback(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let state: String; let description: String?; let context: String?; let target_url: String? }
        let body = try await request.decodeJSON(Body.self, nullable: ["description", "context", "target_url"])
        let recorded = try await webhooks.recordCallback(try context.parameters.require("delivery"), state: body.state,
                                                         description: body.description, context: body.context, targetURL: body.target_url)
        return try APIResponse.json(WebhookDeliveryView.ValidationView(validation: recorded))
    }
}
