import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Where every event is published: the outbox row and a delivery for each webhook that wants it,
/// written in the caller's transaction, so they commit with the change or not at all. Each
/// webhook's delivery job is woken in the same transaction.
public struct WebhookOutbox: Sendable {
    let publicURL: String

    public init(settings: HubSettings) {
        publicURL = settings.publicURL
    }

    /// Records `event` (and its audit entry) and queues its deliveries, in `tx`.
    public func publish(_ event: HubEvent, in tx: Stores) async throws {
        let id = try await tx.events.record(event)
        try await AuditTrail.record(event, in: tx)
        let subscribers = try await tx.webhooks.subscribers(to: event.kind.rawValue, of: event.repository)
        guard !subscribers.isEmpty else { return }
        let facts = try await WebhookEventFacts.gather(event, id: id, in: tx)
        for webhook in subscribers {
            try await enqueue(facts, for: webhook, in: tx)
        }
    }

    /// Queues a delivery of `facts` to `webhook` and wakes its job; returns the delivery.
    @discardableResult
    func enqueue(_ facts: WebhookEventFacts, for webhook: Webhook, in stores: Stores) async throws -> WebhookDelivery {
        let id = SecretToken.randomHex()
        let body = try WebhookBody.render(facts, format: webhook.format, deliveryID: id, publicURL: publicURL)
        return try await enqueue(id: id, event: facts.kind, eventID: facts.eventID, body: body, for: webhook, in: stores)
    }

    /// Queues `delivery`'s body again as a new delivery to `webhook` and wakes its job.
    func enqueueAgain(_ delivery: WebhookDelivery, for webhook: Webhook, in stores: Stores) async throws -> WebhookDelivery {
        try await enqueue(id: SecretToken.randomHex(), event: delivery.event, eventID: delivery.eventID, body: delivery.body,
                          for: webhook, in: stores, redeliveryOf: delivery.id)
    }

    private func enqueue(id: String, event: String, eventID: Int64?, body: String, for webhook: Webhook, in stores: Stores,
                         redeliveryOf: String? = nil) async throws -> WebhookDelivery {
        let now = stores.clock.now
        let delivery = WebhookDelivery(id: id, webhook: webhook.id, eventID: eventID, event: event, body: body, nextAttemptAt: now,
                                       createdAt: now, redeliveryOf: redeliveryOf)
        try await stores.webhooks.addDelivery(delivery)
        try await Self.wake(webhook.id, in: stores)
        return delivery
    }

    /// Makes the webhook's delivery job run (now, or after it finishes what it is doing).
    static func wake(_ webhook: Int64, in stores: Stores) async throws {
        try await stores.jobs.wake(kind: WebhookDeliverer.kind, payload: String(webhook), uniqueKey: "webhook:\(webhook)",
                                   runAt: stores.clock.now, maxAttempts: 1_000_000)
    }
}
