import Foundation
import Logging
import WharfAuth
import WharfCore
import WharfMetadata

/// Sends one webhook's deliveries, oldest first, one at a time: the job `webhook:<id>`, woken
/// whenever a delivery is queued. A failing delivery is retried with backoff and holds back the
/// later ones (order is push order) until it succeeds or fails for good; enough failures in a
/// row disable the webhook. Any number of workers and replicas may run these jobs: the job's
/// lease keeps each webhook to one sender.
public struct WebhookDeliverer: JobHandler {
    public static let kind = "webhook-delivery"
    public var kind: String { Self.kind }

    let stores: Stores
    let settings: WebhookSettings
    let transport: any WebhookTransport
    let logger: Logger

    public init(stores: Stores, settings: WebhookSettings, transport: any WebhookTransport, logger: Logger) {
        self.stores = stores
        self.settings = settings
        self.transport = transport
        self.logger = logger
    }

    /// Wakes the job of every webhook with pending deliveries (after a restart or an import, in case a job row is missing).
    public func resume() async throws {
        for webhook in try await stores.webhooks.webhooksWithPendingDeliveries() {
            try await WebhookOutbox.wake(webhook, in: stores)
        }
    }

    public func run(_ job: Job) async throws -> Date? {
        guard let id = Int64(job.payload) else { return nil }
        while true {
            guard let webhook = try await stores.webhooks.webhook(id), webhook.enabled else { return nil }
            guard let delivery = try await stores.webhooks.nextPendingDelivery(of: id) else {
                if webhook.retiredAt != nil { try await stores.webhooks.deleteWebhook(id) }
                return nil
            }
            let now = stores.clock.now
            if let due = delivery.nextAttemptAt, due > now { return due }
            try await attempt(delivery, to: webhook, at: now)
        }
    }

    /// Sends `delivery` once and records what came of it.
    func attempt(_ delivery: WebhookDelivery, to webhook: Webhook, at start: Date) async throws {
        let request = Self.request(for: delivery, to: webhook)
        let result = await transport.post(request, timeout: settings.timeout)
        let finished = stores.clock.now
        let attempt = WebhookAttempt(
            number: delivery.attempts + 1, startedAt: start,
            durationMilliseconds: max(0, Int((finished.timeIntervalSince(start) * 1000).rounded())),
            statusCode: result.statusCode, error: result.error, responseExcerpt: result.excerpt
        )
        var updated = delivery
        updated.attempts += 1
        let givesUp = result.refused || finished.timeIntervalSince(delivery.createdAt) >= settings.retryFor
        if result.succeeded {
            updated.state = .delivered
        } else if givesUp {
            updated.state = .failed
        }
        if updated.state == .pending {
            updated.nextAttemptAt = finished.addingTimeInterval(backoff(afterAttempt: updated.attempts))
        } else {
            updated.nextAttemptAt = nil
            updated.finishedAt = finished
        }
        let settings = self.settings
        try await stores.transaction { [updated] tx in
            try await tx.webhooks.addAttempt(attempt, to: delivery.id)
            try await tx.webhooks.updateDelivery(updated)
            guard updated.state != .pending, var current = try await tx.webhooks.webhook(webhook.id) else { return }
            if updated.state == .delivered {
                guard current.consecutiveFailures != 0 else { return }
                current.consecutiveFailures = 0
            } else {
                current.consecutiveFailures += 1
                if current.consecutiveFailures >= settings.disableAfter, current.enabled {
                    current.enabled = false
                    current.disabledReason = "Disabled automatically after \(current.consecutiveFailures) deliveries in a row failed; the last: \(result.error ?? "unknown error")"
                }
            }
            try await tx.webhooks.updateWebhook(current)
        }
        log(delivery, webhook: webhook, result: result, state: updated.state)
        if updated.state != .pending { try await stores.webhooks.pruneDeliveries(of: webhook.id, keep: settings.keptDeliveries) }
    }

    /// Seconds to wait after the `attempt`-th failed attempt: the delay doubles each time, capped, with ±25 % jitter.
    func backoff(afterAttempt attempt: Int) -> Double {
        let base = min(settings.retryMaxDelay, settings.retryDelay * pow(2, Double(min(max(attempt - 1, 0), 30))))
        return base * Double.random(in: 0.75...1.25)
    }

    /// The POST for `delivery`: its body, the event headers and, with a secret, the body's HMAC-SHA256.
    static func request(for delivery: WebhookDelivery, to webhook: Webhook) -> WebhookRequest {
        var headers: [(name: String, value: String)] = [
            ("Content-Type", WebhookBody.contentType(of: webhook.format)),
            ("User-Agent", "Wharf-Hookshot/1"),
            ("X-Wharf-Event", delivery.event),
            ("X-Wharf-Delivery", delivery.id),
            ("X-Wharf-Webhook", String(webhook.id)),
        ]
        if let secret = webhook.secret, !secret.isEmpty {
            headers.append(("X-Wharf-Signature-256", signature(of: delivery.body, secret: secret)))
        }
        return WebhookRequest(url: webhook.url, headers: headers, body: delivery.body)
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret`.
    public static func signature(of body: String, secret: String) -> String {
        "sha256=" + SecretToken.hmacSHA256Hex(Data(body.utf8), key: secret)
    }

    private func log(_ delivery: WebhookDelivery, webhook: Webhook, result: WebhookResult, state: WebhookDelivery.State) {
        var metadata: Logger.Metadata = [
            "wharf.webhook": "\(webhook.id)", "wharf.delivery": "\(delivery.id)", "wharf.event": "\(delivery.event)",
            "wharf.attempt": "\(delivery.attempts + 1)", "wharf.state": "\(state.rawValue)",
        ]
        if let status = result.statusCode { metadata["wharf.status"] = "\(status)" }
        if let error = result.error { metadata["error"] = "\(error)" }
        if result.succeeded {
            logger.info("webhook delivered", metadata: metadata)
        } else {
            logger.warning("webhook delivery attempt failed", metadata: metadata)
        }
    }
}
