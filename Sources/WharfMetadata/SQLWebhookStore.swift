import Foundation
import SQLKit
import WharfCore

/// `WebhookStore` over the `webhooks`, `webhook_deliveries` and `webhook_attempts` tables.
struct SQLWebhookStore: WebhookStore {
    let access: any SQLDatabaseAccess

    func createWebhook(_ webhook: Webhook) async throws -> Webhook {
        let (repository, organization) = Self.columns(webhook.scope)
        return try await access.transaction { db in
            let row = try await db.raw("""
                INSERT INTO webhooks (repository, organization, name, url, events, format, secret, enabled, disabled_reason,
                                      consecutive_failures, created_by, created_at, updated_at)
                VALUES (\(bind: repository), \(bind: organization), \(bind: webhook.name), \(bind: webhook.url),
                        \(bind: webhook.events.joined(separator: ",")), \(bind: webhook.format), \(bind: webhook.secret),
                        \(bind: webhook.enabled), \(bind: webhook.disabledReason), \(bind: webhook.consecutiveFailures),
                        \(bind: webhook.createdBy), \(bind: webhook.createdAt.timeIntervalSince1970),
                        \(bind: webhook.updatedAt.timeIntervalSince1970))
                RETURNING id
                """).first()
            var created = webhook
            created.id = try row?.decode(column: "id", as: Int64.self) ?? 0
            return created
        }
    }

    func webhook(_ id: Int64) async throws -> Webhook? {
        try await access.reader.raw("SELECT * FROM webhooks WHERE id = \(bind: id)").first().flatMap(Self.decodeWebhook)
    }

    func webhooks(in scope: WebhookScope) async throws -> [Webhook] {
        let condition: SQLQueryString = switch scope {
        case .repository(let name): "repository = \(bind: name.value)"
        case .organization(let name): "organization = \(bind: name)"
        }
        return try await access.reader.raw("SELECT * FROM webhooks WHERE \(condition) AND retired_at IS NULL ORDER BY id")
            .all().compactMap(Self.decodeWebhook)
    }

    @discardableResult
    func updateWebhook(_ webhook: Webhook) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM webhooks WHERE id = \(bind: webhook.id)",
            change: """
                UPDATE webhooks SET name = \(bind: webhook.name), url = \(bind: webhook.url),
                events = \(bind: webhook.events.joined(separator: ",")), format = \(bind: webhook.format), secret = \(bind: webhook.secret),
                enabled = \(bind: webhook.enabled), disabled_reason = \(bind: webhook.disabledReason),
                consecutive_failures = \(bind: webhook.consecutiveFailures), updated_at = \(bind: webhook.updatedAt.timeIntervalSince1970),
                retired_at = \(bind: webhook.retiredAt?.timeIntervalSince1970)
                WHERE id = \(bind: webhook.id)
                """
        )
    }

    @discardableResult
    func deleteWebhook(_ id: Int64) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM webhooks WHERE id = \(bind: id)",
            change: "DELETE FROM webhooks WHERE id = \(bind: id)"
        )
    }

    func retireWebhooks(of repository: RepositoryName, at time: Date) async throws {
        try await access.transaction { db in
            try await db.raw("""
                UPDATE webhooks SET retired_at = \(bind: time.timeIntervalSince1970)
                WHERE repository = \(bind: repository.value) AND retired_at IS NULL
                """).run()
        }
    }

    func subscribers(to kind: String, of repository: RepositoryName) async throws -> [Webhook] {
        try await access.reader.raw("""
            SELECT * FROM webhooks WHERE (repository = \(bind: repository.value) OR organization = \(bind: String(repository.namespace)))
            AND retired_at IS NULL AND enabled ORDER BY id
            """).all().compactMap(Self.decodeWebhook).filter { $0.events.contains(kind) }
    }

    func webhooksWithPendingDeliveries() async throws -> [Int64] {
        try await access.reader.raw("SELECT DISTINCT webhook FROM webhook_deliveries WHERE state = 'pending'")
            .all().map { try $0.decode(column: "webhook", as: Int64.self) }
    }

    func addDelivery(_ delivery: WebhookDelivery) async throws {
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO webhook_deliveries (id, webhook, event_id, event, body, state, attempts, next_attempt_at, created_at,
                                                finished_at, redelivery_of)
                VALUES (\(bind: delivery.id), \(bind: delivery.webhook), \(bind: delivery.eventID), \(bind: delivery.event),
                        \(bind: delivery.body), \(bind: delivery.state.rawValue), \(bind: delivery.attempts),
                        \(bind: delivery.nextAttemptAt?.timeIntervalSince1970), \(bind: delivery.createdAt.timeIntervalSince1970),
                        \(bind: delivery.finishedAt?.timeIntervalSince1970), \(bind: delivery.redeliveryOf))
                """).run()
        }
    }

    func updateDelivery(_ delivery: WebhookDelivery) async throws {
        try await access.transaction { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET state = \(bind: delivery.state.rawValue), attempts = \(bind: delivery.attempts),
                next_attempt_at = \(bind: delivery.nextAttemptAt?.timeIntervalSince1970),
                finished_at = \(bind: delivery.finishedAt?.timeIntervalSince1970)
                WHERE id = \(bind: delivery.id)
                """).run()
        }
    }

    func nextPendingDelivery(of webhook: Int64) async throws -> WebhookDelivery? {
        try await access.reader.raw("""
            SELECT * FROM webhook_deliveries WHERE webhook = \(bind: webhook) AND state = 'pending' ORDER BY number LIMIT 1
            """).first().flatMap(Self.decodeDelivery)
    }

    func delivery(_ id: String) async throws -> WebhookDelivery? {
        try await access.reader.raw("SELECT * FROM webhook_deliveries WHERE id = \(bind: id)").first().flatMap(Self.decodeDelivery)
    }

    func deliveries(of webhook: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try await access.reader.raw("""
            SELECT * FROM webhook_deliveries WHERE webhook = \(bind: webhook) ORDER BY number DESC LIMIT \(bind: limit)
            """).all().compactMap(Self.decodeDelivery)
    }

    func addAttempt(_ attempt: WebhookAttempt, to delivery: String) async throws {
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO webhook_attempts (delivery, number, started_at, duration_ms, status_code, error, response_excerpt)
                VALUES (\(bind: delivery), \(bind: attempt.number), \(bind: attempt.startedAt.timeIntervalSince1970),
                        \(bind: attempt.durationMilliseconds), \(bind: attempt.statusCode), \(bind: attempt.error),
                        \(bind: attempt.responseExcerpt))
                """).run()
        }
    }

    func attempts(of deliveries: [String]) async throws -> [String: [WebhookAttempt]] {
        guard !deliveries.isEmpty else { return [:] }
        var found: [String: [WebhookAttempt]] = [:]
        for row in try await access.reader.raw("""
            SELECT * FROM webhook_attempts WHERE delivery IN (\(binds: deliveries)) ORDER BY delivery, number
            """).all() {
            let attempt = WebhookAttempt(
                number: try row.decode(column: "number", as: Int.self),
                startedAt: Date(timeIntervalSince1970: try row.decode(column: "started_at", as: Double.self)),
                durationMilliseconds: try row.decode(column: "duration_ms", as: Int.self),
                statusCode: try row.decode(column: "status_code", as: Int?.self),
                error: try row.decode(column: "error", as: String?.self),
                responseExcerpt: try row.decode(column: "response_excerpt", as: String.self)
            )
            found[try row.decode(column: "delivery", as: String.self), default: []].append(attempt)
        }
        return found
    }

    func recordValidation(_ validation: WebhookValidation, on delivery: String) async throws -> Bool {
        let encoded = String(decoding: try JSONEncoder().encode(validation), as: UTF8.self)
        return try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM webhook_deliveries WHERE id = \(bind: delivery)",
            change: "UPDATE webhook_deliveries SET validation = \(bind: encoded) WHERE id = \(bind: delivery)"
        )
    }

    func pruneDeliveries(of webhook: Int64, keep: Int) async throws {
        try await access.transaction(.relaxed) { db in
            try await db.raw("""
                DELETE FROM webhook_deliveries WHERE webhook = \(bind: webhook) AND state <> 'pending' AND number <= (
                    SELECT number FROM webhook_deliveries WHERE webhook = \(bind: webhook)
                    ORDER BY number DESC LIMIT 1 OFFSET \(bind: keep))
                """).run()
        }
    }

    private static func columns(_ scope: WebhookScope) -> (repository: String?, organization: String?) {
        switch scope {
        case .repository(let name): (name.value, nil)
        case .organization(let name): (nil, name)
        }
    }

    static func decodeWebhook(_ row: any SQLRow) throws -> Webhook? {
        let scope: WebhookScope
        if let repository = try row.decode(column: "repository", as: String?.self) {
            guard let name = RepositoryName(repository) else { return nil }
            scope = .repository(name)
        } else {
            scope = .organization(try row.decode(column: "organization", as: String.self))
        }
        return Webhook(
            id: try row.decode(column: "id", as: Int64.self), scope: scope,
            name: try row.decode(column: "name", as: String.self), url: try row.decode(column: "url", as: String.self),
            events: try row.decode(column: "events", as: String.self).split(separator: ",").map(String.init),
            format: try row.decode(column: "format", as: String.self), secret: try row.decode(column: "secret", as: String?.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
            consecutiveFailures: try row.decode(column: "consecutive_failures", as: Int.self),
            createdBy: try row.decode(column: "created_by", as: String?.self),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row.decode(column: "updated_at", as: Double.self)),
            retiredAt: try row.decode(column: "retired_at", as: Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }

    static func decodeDelivery(_ row: any SQLRow) throws -> WebhookDelivery? {
        guard let state = WebhookDelivery.State(rawValue: try row.decode(column: "state", as: String.self)) else { return nil }
        let validation = try row.decode(column: "validation", as: String?.self)
            .flatMap { try? JSONDecoder().decode(WebhookValidation.self, from: Data($0.utf8)) }
        return WebhookDelivery(
            id: try row.decode(column: "id", as: String.self), webhook: try row.decode(column: "webhook", as: Int64.self),
            eventID: try row.decode(column: "event_id", as: Int64?.self), event: try row.decode(column: "event", as: String.self),
            body: try row.decode(column: "body", as: String.self), state: state, attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: try row.decode(column: "next_attempt_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            finishedAt: try row.decode(column: "finished_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            redeliveryOf: try row.decode(column: "redelivery_of", as: String?.self), validation: validation
        )
    }
}
