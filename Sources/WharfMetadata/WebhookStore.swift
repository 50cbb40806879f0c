import Foundation
import WharfCore

/// What a webhook listens to: one repository, or every repository of an organization.
public enum WebhookScope: Sendable, Equatable {
    case repository(RepositoryName)
    case organization(String)
}

/// A URL that receives a POST for each event it subscribes to.
public struct Webhook: Sendable, Equatable {
    /// Assigned by the store.
    public var id: Int64
    public var scope: WebhookScope
    public var name: String
    public var url: String
    /// `HubEvent.Kind` raw values.
    public var events: [String]
    /// `hub` or `cloudevents`.
    public var format: String
    /// The HMAC key for `X-Wharf-Signature-256`; never shown after creation.
    public var secret: String?
    public var enabled: Bool
    /// Why it was disabled automatically, for its owner.
    public var disabledReason: String?
    /// Deliveries in a row that failed for good, reset by a success.
    public var consecutiveFailures: Int
    public var createdBy: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Set when its repository was deleted: it no longer lists or matches, and goes once its pending deliveries are sent.
    public var retiredAt: Date?

    public init(id: Int64 = 0, scope: WebhookScope, name: String, url: String, events: [String], format: String, secret: String?,
                enabled: Bool = true, disabledReason: String? = nil, consecutiveFailures: Int = 0, createdBy: String?,
                createdAt: Date, updatedAt: Date, retiredAt: Date? = nil) {
        self.id = id
        self.scope = scope
        self.name = name
        self.url = url
        self.events = events
        self.format = format
        self.secret = secret
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.consecutiveFailures = consecutiveFailures
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.retiredAt = retiredAt
    }
}

/// One event to send to one webhook, with its frozen body and what came of it.
public struct WebhookDelivery: Sendable, Equatable {
    public enum State: String, Sendable {
        case pending, delivered, failed
    }

    /// Random and unguessable: it is also the key of the delivery's `callback_url`.
    public var id: String
    public var webhook: Int64
    /// The outbox event it came from (nil for a test event).
    public var eventID: Int64?
    /// The event kind, or `test`.
    public var event: String
    /// The exact request body.
    public var body: String
    public var state: State
    public var attempts: Int
    /// When the next attempt is due (pending deliveries).
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var finishedAt: Date?
    public var redeliveryOf: String?
    /// What the receiver reported through `callback_url`.
    public var validation: WebhookValidation?

    public init(id: String, webhook: Int64, eventID: Int64?, event: String, body: String, state: State = .pending, attempts: Int = 0,
                nextAttemptAt: Date?, createdAt: Date, finishedAt: Date? = nil, redeliveryOf: String? = nil,
                validation: WebhookValidation? = nil) {
        self.id = id
        self.webhook = webhook
        self.eventID = eventID
        self.event = event
        self.body = body
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.redeliveryOf = redeliveryOf
        self.validation = validation
    }
}

/// One try at sending a delivery.
public struct WebhookAttempt: Sendable, Equatable {
    public var number: Int
    public var startedAt: Date
    public var durationMilliseconds: Int
    /// The receiver's status; nil when no response came.
    public var statusCode: Int?
    public var error: String?
    /// The start of the response body.
    public var responseExcerpt: String

    public init(number: Int, startedAt: Date, durationMilliseconds: Int, statusCode: Int?, error: String?, responseExcerpt: String) {
        self.number = number
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.error = error
        self.responseExcerpt = responseExcerpt
    }
}

/// Docker Hub's callback body: the receiver's verdict on a delivery.
public struct WebhookValidation: Sendable, Equatable, Codable {
    public var state: String
    public var description: String?
    public var context: String?
    public var targetURL: String?
    public var receivedAt: Date

    public init(state: String, description: String?, context: String?, targetURL: String?, receivedAt: Date) {
        self.state = state
        self.description = description
        self.context = context
        self.targetURL = targetURL
        self.receivedAt = receivedAt
    }
}

/// Webhooks, their deliveries and the attempts at them.
public protocol WebhookStore: Sendable {
    /// Stores a new webhook (its `id` is ignored) and returns it with its id.
    func createWebhook(_ webhook: Webhook) async throws -> Webhook
    /// The webhook with `id`, retired ones included.
    func webhook(_ id: Int64) async throws -> Webhook?
    /// The live webhooks of `scope`, oldest first.
    func webhooks(in scope: WebhookScope) async throws -> [Webhook]
    /// Saves every field but `id` and `scope`; false when it does not exist.
    @discardableResult
    func updateWebhook(_ webhook: Webhook) async throws -> Bool
    /// Deletes the webhook with its deliveries; false when it did not exist.
    @discardableResult
    func deleteWebhook(_ id: Int64) async throws -> Bool
    /// The repository is gone: its webhooks stop listing and matching (their pending deliveries still go).
    func retireWebhooks(of repository: RepositoryName, at time: Date) async throws
    /// The enabled live webhooks that want `kind` events of `repository` (its own and its organization's).
    func subscribers(to kind: String, of repository: RepositoryName) async throws -> [Webhook]
    /// Webhooks that have pending deliveries.
    func webhooksWithPendingDeliveries() async throws -> [Int64]

    func addDelivery(_ delivery: WebhookDelivery) async throws
    /// Saves the delivery's state, attempt count, next attempt and finish time.
    func updateDelivery(_ delivery: WebhookDelivery) async throws
    /// The oldest pending delivery of the webhook: the only one that may be sent (order is push order).
    func nextPendingDelivery(of webhook: Int64) async throws -> WebhookDelivery?
    func delivery(_ id: String) async throws -> WebhookDelivery?
    /// The webhook's deliveries, newest first.
    func deliveries(of webhook: Int64, limit: Int) async throws -> [WebhookDelivery]
    /// Records an attempt at `delivery`.
    func addAttempt(_ attempt: WebhookAttempt, to delivery: String) async throws
    /// The attempts at each of `deliveries`, first attempt first.
    func attempts(of deliveries: [String]) async throws -> [String: [WebhookAttempt]]
    /// Records the receiver's verdict; false when the delivery does not exist.
    func recordValidation(_ validation: WebhookValidation, on delivery: String) async throws -> Bool
    /// Forgets the webhook's finished deliveries beyond the `keep` most recent.
    func pruneDeliveries(of webhook: Int64, keep: Int) async throws
}
