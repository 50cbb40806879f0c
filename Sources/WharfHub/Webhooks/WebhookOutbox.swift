import Foundation
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

    /// Records `event` and queues its deliveries, in `tx`.
    public func publish(_ event: HubEvent, in tx: Stores) async throws {
        let id = try await tx.events.record(event)
        let subscribers = try await tx.webhooks.subscribers(to: event.kind.rawValue, of: event.repository)
        guard !subscribers.isEmpty else { return }
        let facts = try await WebhookEventFacts.gather(event, id: id, in: tx)
        for webhook in subscribers {
            try await enqueue(facts, for: webhook, in: tx)
        }
    }

    /// Queues a delivery of `facts` to `webhook` and wakes its job; returns the delivery.
    @discardableResult
    func enqueue(_ facts: WebhookEventFacts, for webhook: Webhook, in stores: Stores, redeliveryOf: String? = nil,
                 body: String? = nil) async throws -> WebhookDelivery {
        let id = Self.newDeliveryID()
        let now = stores.clock.now
        let delivery = WebhookDelivery(
            id: id, webhook: webhook.id, eventID: facts.eventID, event: facts.kind,
            body: try body ?? WebhookBody.render(facts, format: webhook.format, deliveryID: id, publicURL: publicURL),
            nextAttemptAt: now, createdAt: now, redeliveryOf: redeliveryOf
        )
        try await stores.webhooks.addDelivery(delivery)
        try await Self.wake(webhook.id, in: stores)
        return delivery
    }

    /// Makes the webhook's delivery job run (now, or after it finishes what it is doing).
    static func wake(_ webhook: Int64, in stores: Stores) async throws {
        try await stores.jobs.wake(kind: WebhookDeliverer.kind, payload: String(webhook), uniqueKey: "webhook:\(webhook)",
                                   runAt: stores.clock.now, maxAttempts: 1_000_000)
    }

    /// 128 random bits in hex: the delivery's id and the key of its callback URL.
    static func newDeliveryID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
