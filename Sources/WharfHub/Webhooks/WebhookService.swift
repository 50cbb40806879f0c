import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Webhooks of a repository (its admins manage them) or of an organization (its owners do):
/// creation with every rule on names, URLs, events and formats, the delivery log, redelivery,
/// test events and the receivers' callbacks.
public struct WebhookService: Sendable {
    let stores: Stores
    let access: Access
    let outbox: WebhookOutbox
    let policy: WebhookAddressPolicy

    init(stores: Stores, access: Access, settings: HubSettings) {
        self.stores = stores
        self.access = access
        outbox = WebhookOutbox(settings: settings)
        policy = WebhookAddressPolicy(settings: settings.webhooks)
    }

    /// What a webhook is made of when created or changed; nil fields keep their value.
    public struct Draft: Sendable {
        public var name: String?
        public var url: String?
        /// Empty removes the secret.
        public var secret: String?
        public var events: [String]?
        public var format: String?
        public var enabled: Bool?

        public init(name: String? = nil, url: String? = nil, secret: String? = nil, events: [String]? = nil, format: String? = nil,
                    enabled: Bool? = nil) {
            self.name = name
            self.url = url
            self.secret = secret
            self.events = events
            self.format = format
            self.enabled = enabled
        }
    }

    /// Throws unless `principal` may manage the webhooks of `scope`.
    public func requireManager(_ principal: Principal?, of scope: WebhookScope) async throws {
        switch scope {
        case .repository(let name): try await access.require(principal, .manage, on: name)
        case .organization(let name): try await access.require(principal, .manage, organization: name)
        }
    }

    public func list(_ scope: WebhookScope, by principal: Principal?) async throws -> [Webhook] {
        try await requireManager(principal, of: scope)
        return try await stores.webhooks.webhooks(in: scope)
    }

    public func create(in scope: WebhookScope, _ draft: Draft, by principal: Principal?) async throws -> Webhook {
        try await requireManager(principal, of: scope)
        let now = stores.clock.now
        var webhook = Webhook(scope: scope, name: "", url: "", events: [HubEvent.Kind.push.rawValue], format: WebhookFormat.hub,
                              secret: nil, createdBy: principal?.name, createdAt: now, updatedAt: now)
        guard draft.name != nil else { throw HubError.invalid("name", "name is required") }
        guard draft.url != nil else { throw HubError.invalid("url", "url is required") }
        try await apply(draft, to: &webhook)
        return try await stores.webhooks.createWebhook(webhook)
    }

    public func show(_ id: Int64, in scope: WebhookScope, by principal: Principal?) async throws -> Webhook {
        try await requireManager(principal, of: scope)
        return try await find(id, in: scope)
    }

    public func update(_ id: Int64, in scope: WebhookScope, _ draft: Draft, by principal: Principal?) async throws -> Webhook {
        try await requireManager(principal, of: scope)
        var webhook = try await find(id, in: scope)
        let wasEnabled = webhook.enabled
        try await apply(draft, to: &webhook)
        if draft.enabled == true, !wasEnabled {
            webhook.disabledReason = nil
            webhook.consecutiveFailures = 0
        }
        webhook.updatedAt = stores.clock.now
        let saved = webhook
        try await stores.transaction { tx in
            guard try await tx.webhooks.updateWebhook(saved) else { throw HubError.notFound("webhook") }
            // Deliveries held while it was disabled go out now.
            if saved.enabled, !wasEnabled { try await WebhookOutbox.wake(saved.id, in: tx) }
        }
        return webhook
    }

    public func delete(_ id: Int64, in scope: WebhookScope, by principal: Principal?) async throws {
        try await requireManager(principal, of: scope)
        _ = try await find(id, in: scope)
        guard try await stores.webhooks.deleteWebhook(id) else { throw HubError.notFound("webhook") }
    }

    /// A delivery with its attempts.
    public struct DeliveryRecord: Sendable {
        public var delivery: WebhookDelivery
        public var attempts: [WebhookAttempt]
    }

    /// The webhook's most recent deliveries, newest first.
    public func deliveries(of id: Int64, in scope: WebhookScope, limit: Int, by principal: Principal?) async throws -> [DeliveryRecord] {
        try await requireManager(principal, of: scope)
        _ = try await find(id, in: scope)
        let deliveries = try await stores.webhooks.deliveries(of: id, limit: min(max(limit, 1), 100))
        let attempts = try await stores.webhooks.attempts(of: deliveries.map(\.id))
        return deliveries.map { DeliveryRecord(delivery: $0, attempts: attempts[$0.id] ?? []) }
    }

    public func delivery(_ deliveryID: String, of id: Int64, in scope: WebhookScope, by principal: Principal?) async throws -> DeliveryRecord {
        try await requireManager(principal, of: scope)
        _ = try await find(id, in: scope)
        guard let delivery = try await stores.webhooks.delivery(deliveryID), delivery.webhook == id else {
            throw HubError.notFound("delivery")
        }
        return DeliveryRecord(delivery: delivery, attempts: try await stores.webhooks.attempts(of: [deliveryID])[deliveryID] ?? [])
    }

    /// Queues the delivery's body again, as a new delivery behind the pending ones.
    public func redeliver(_ deliveryID: String, of id: Int64, in scope: WebhookScope, by principal: Principal?) async throws -> DeliveryRecord {
        let original = try await delivery(deliveryID, of: id, in: scope, by: principal).delivery
        let webhook = try await requireEnabled(id, in: scope)
        let queued = try await stores.transaction { [outbox] tx in try await outbox.enqueueAgain(original, for: webhook, in: tx) }
        return DeliveryRecord(delivery: queued, attempts: [])
    }

    /// Queues a `test` delivery: the push payload of the repository's latest pushed tag (or `latest`).
    public func sendTest(_ id: Int64, in scope: WebhookScope, by principal: Principal?) async throws -> DeliveryRecord {
        try await requireManager(principal, of: scope)
        let webhook = try await requireEnabled(id, in: scope)
        let repository = try await sampleRepository(scope)
        let latest = try await stores.catalog.tagPage(in: repository, nameContains: nil, ordering: .newest, offset: 0, limit: 1).items.first
        var facts = WebhookEventFacts(kind: WebhookFormat.testEvent, eventID: nil, repository: repository,
                                      info: try await stores.metadata.repositoryInfo(repository), actor: principal?.name,
                                      tag: latest?.name ?? "latest", digest: latest?.manifest.digest, images: [],
                                      occurredAt: stores.clock.now)
        if let manifest = latest?.manifest {
            facts.mediaType = manifest.mediaType
            facts.images = manifest.manifestReferences.isEmpty ? [manifest.digest.description] : manifest.manifestReferences.map(\.description)
        }
        let queued = try await stores.transaction { [outbox, facts] tx in try await outbox.enqueue(facts, for: webhook, in: tx) }
        return DeliveryRecord(delivery: queued, attempts: [])
    }

    /// Records a receiver's verdict posted to a delivery's `callback_url` (Docker Hub's validation callback).
    public func recordCallback(_ deliveryID: String, state: String, description: String?, context: String?,
                               targetURL: String?) async throws -> WebhookValidation {
        guard ["success", "failure", "error"].contains(state) else {
            throw HubError.invalid("state", "state must be success, failure or error")
        }
        if let description, description.count > 255 { throw HubError.invalid("description", "description is at most 255 characters") }
        if let context, context.count > 100 { throw HubError.invalid("context", "context is at most 100 characters") }
        if let targetURL, targetURL.count > 2000 { throw HubError.invalid("target_url", "target_url is at most 2000 characters") }
        let validation = WebhookValidation(state: state, description: description, context: context, targetURL: targetURL,
                                           receivedAt: stores.clock.now)
        guard Self.isDeliveryID(deliveryID), try await stores.webhooks.recordValidation(validation, on: deliveryID) else {
            throw HubError.notFound("delivery")
        }
        return validation
    }

    // MARK: - Rules

    private func find(_ id: Int64, in scope: WebhookScope) async throws -> Webhook {
        guard let webhook = try await stores.webhooks.webhook(id), webhook.scope == scope, webhook.retiredAt == nil else {
            throw HubError.notFound("webhook")
        }
        return webhook
    }

    private func requireEnabled(_ id: Int64, in scope: WebhookScope) async throws -> Webhook {
        let webhook = try await find(id, in: scope)
        guard webhook.enabled else { throw HubError.conflict("enabled", "the webhook is disabled; enable it first") }
        return webhook
    }

    /// The repository a test event of `scope` is about: its own, or the organization's most recently updated one.
    private func sampleRepository(_ scope: WebhookScope) async throws -> RepositoryName {
        switch scope {
        case .repository(let name):
            return name
        case .organization(let organization):
            let newest = try await stores.metadata.repositories(in: organization).max { $0.updatedAt < $1.updatedAt }
            return newest?.name ?? RepositoryName("\(organization)/example") ?? RepositoryName("library/example")!
        }
    }

    private func apply(_ draft: Draft, to webhook: inout Webhook) async throws {
        if let name = draft.name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(trimmed.count), !TextRules.hasControlCharacters(trimmed) else {
                throw HubError.invalid("name", "name must be 1 to 100 characters, without control characters")
            }
            webhook.name = trimmed
        }
        if let url = draft.url {
            webhook.url = try await checkedURL(url)
        }
        if let secret = draft.secret {
            guard secret.count <= 256, !TextRules.hasControlCharacters(secret) else {
                throw HubError.invalid("secret", "secret is at most 256 characters, without control characters")
            }
            webhook.secret = secret.isEmpty ? nil : secret
        }
        if let events = draft.events {
            let known = WebhookFormat.subscribable.map(\.rawValue)
            guard !events.isEmpty else { throw HubError.invalid("events", "events must name at least one of \(known.joined(separator: ", "))") }
            if let unknown = events.first(where: { !known.contains($0) }) {
                throw HubError.invalid("events", "\(unknown) is not an event; use \(known.joined(separator: ", "))")
            }
            webhook.events = known.filter(events.contains)
        }
        if let format = draft.format {
            guard WebhookFormat.all.contains(format) else { throw HubError.invalid("format", "format must be hub or cloudevents") }
            webhook.format = format
        }
        if let enabled = draft.enabled { webhook.enabled = enabled }
    }

    /// The URL, when it is http(s) with a host that does not resolve to a refused address.
    private func checkedURL(_ raw: String) async throws -> String {
        let url = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard url.count <= 2000, !TextRules.hasControlCharacters(url), let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty else {
            throw HubError.invalid("url", "url must be an http or https URL with a host")
        }
        // A DNS name or an IP address: nothing else can be called.
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) }) else {
            throw HubError.invalid("url", "url must be an http or https URL with a host name or address")
        }
        guard parsed.user == nil, parsed.password == nil else {
            throw HubError.invalid("url", "url may not carry credentials; use a secret to authenticate deliveries")
        }
        do {
            _ = try await policy.vet(host: host, timeout: 3)
        } catch let error as WebhookAddressError where error.description.contains("may not call") {
            throw HubError.invalid("url", error.description)
        } catch {
            // A name that does not resolve now may later; each delivery checks again.
        }
        return url
    }

    private static func isDeliveryID(_ text: String) -> Bool {
        text.count == 32 && text.allSatisfy { $0.isHexDigit }
    }
}
