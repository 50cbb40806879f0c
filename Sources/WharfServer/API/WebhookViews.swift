import Foundation
import WharfHub
import WharfMetadata

/// A webhook as `/api` shows it: everything but its secret. Absent values are `null`.
struct WebhookView: Encodable {
    let webhook: Webhook

    enum Key: String, CodingKey {
        case id, name, url, events, format, enabled, has_secret, disabled_reason, consecutive_failures, created_by, created_at,
             updated_at, repository, organization
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(webhook.id, forKey: .id)
        try c.encode(webhook.name, forKey: .name)
        try c.encode(webhook.url, forKey: .url)
        try c.encode(webhook.events, forKey: .events)
        try c.encode(webhook.format, forKey: .format)
        try c.encode(webhook.enabled, forKey: .enabled)
        try c.encode(webhook.secret != nil, forKey: .has_secret)
        try c.encode(webhook.disabledReason, forKey: .disabled_reason)
        try c.encode(webhook.consecutiveFailures, forKey: .consecutive_failures)
        try c.encode(webhook.createdBy, forKey: .created_by)
        try c.encode(webhook.createdAt, forKey: .created_at)
        try c.encode(webhook.updatedAt, forKey: .updated_at)
        switch webhook.scope {
        case .repository(let name):
            try c.encode(name.value, forKey: .repository)
            try c.encodeNil(forKey: .organization)
        case .organization(let name):
            try c.encodeNil(forKey: .repository)
            try c.encode(name, forKey: .organization)
        }
    }
}

/// A delivery with its attempts; with `includeBody`, the exact request body too.
struct WebhookDeliveryView: Encodable {
    let record: WebhookService.DeliveryRecord
    var includeBody = false

    enum Key: String, CodingKey {
        case id, webhook, event, state, created_at, finished_at, next_attempt_at, attempt_count, attempts, redelivery_of, validation,
             request_body
    }

    struct AttemptView: Encodable {
        let attempt: WebhookAttempt

        enum Key: String, CodingKey { case number, started_at, duration_ms, status_code, error, response_excerpt }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(attempt.number, forKey: .number)
            try c.encode(attempt.startedAt, forKey: .started_at)
            try c.encode(attempt.durationMilliseconds, forKey: .duration_ms)
            try c.encode(attempt.statusCode, forKey: .status_code)
            try c.encode(attempt.error, forKey: .error)
            try c.encode(attempt.responseExcerpt, forKey: .response_excerpt)
        }
    }

    struct ValidationView: Encodable {
        let validation: WebhookValidation

        enum Key: String, CodingKey { case state, description, context, target_url, received_at }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(validation.state, forKey: .state)
            try c.encode(validation.description, forKey: .description)
            try c.encode(validation.context, forKey: .context)
            try c.encode(validation.targetURL, forKey: .target_url)
            try c.encode(validation.receivedAt, forKey: .received_at)
        }
    }

    func encode(to encoder: any Encoder) throws {
        let delivery = record.delivery
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(delivery.id, forKey: .id)
        try c.encode(delivery.webhook, forKey: .webhook)
        try c.encode(delivery.event, forKey: .event)
        try c.encode(delivery.state.rawValue, forKey: .state)
        try c.encode(delivery.createdAt, forKey: .created_at)
        try c.encode(delivery.finishedAt, forKey: .finished_at)
        try c.encode(delivery.state == .pending ? delivery.nextAttemptAt : nil, forKey: .next_attempt_at)
        try c.encode(delivery.attempts, forKey: .attempt_count)
        try c.encode(record.attempts.map(AttemptView.init), forKey: .attempts)
        try c.encode(delivery.redeliveryOf, forKey: .redelivery_of)
        try c.encode(delivery.validation.map(ValidationView.init), forKey: .validation)
        if includeBody { try c.encode(delivery.body, forKey: .request_body) }
    }
}
