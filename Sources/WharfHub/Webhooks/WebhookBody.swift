import Foundation
import WharfCore
import WharfMetadata

/// What a webhook body is made of, gathered once, in the transaction of the change that caused it.
struct WebhookEventFacts: Sendable {
    var kind: String
    var eventID: Int64?
    var repository: RepositoryName
    /// Nil only when the repository is already gone.
    var info: RepositoryInfo?
    var actor: String?
    var tag: String?
    var digest: Digest?
    /// The pushed manifest's media type.
    var mediaType: String?
    /// The pushed manifest, or for an index the manifests it lists.
    var images: [String]
    var occurredAt: Date

    /// The facts of `event` (recorded with `id`), read through `stores` (the event's transaction).
    static func gather(_ event: HubEvent, id: Int64?, in stores: Stores) async throws -> WebhookEventFacts {
        var facts = WebhookEventFacts(kind: event.kind.rawValue, eventID: id, repository: event.repository,
                                      info: try await stores.metadata.repositoryInfo(event.repository), actor: event.actor,
                                      tag: event.tag, digest: event.digest, images: [], occurredAt: event.createdAt)
        if event.kind == .push, let digest = event.digest {
            let manifest = try await stores.metadata.manifest(digest, in: event.repository)
            facts.mediaType = manifest?.mediaType
            let children = manifest?.manifestReferences ?? []
            facts.images = children.isEmpty ? [digest.description] : children.map(\.description)
        }
        return facts
    }
}

/// Renders webhook bodies: Docker Hub's push payload (`hub`) or CloudEvents 1.0 structured JSON.
enum WebhookBody {
    /// The `Content-Type` of a body in `format`.
    static func contentType(of format: String) -> String {
        format == WebhookFormat.cloudEvents ? "application/cloudevents+json; charset=utf-8" : "application/json"
    }

    /// The body for `facts` sent as delivery `deliveryID` (whose callback URL it names).
    static func render(_ facts: WebhookEventFacts, format: String, deliveryID: String, publicURL: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        if format == WebhookFormat.cloudEvents {
            data = try encoder.encode(cloudEvent(facts, deliveryID: deliveryID, publicURL: publicURL))
        } else if facts.kind == HubEvent.Kind.push.rawValue || facts.kind == WebhookFormat.testEvent {
            data = try encoder.encode(HubPush(
                callback_url: callbackURL(deliveryID, publicURL: publicURL),
                push_data: .init(images: facts.images, media_type: facts.mediaType, pushed_at: epoch(facts.occurredAt),
                                 pusher: facts.actor ?? "", tag: facts.tag),
                repository: repository(facts, publicURL: publicURL)))
        } else {
            data = try encoder.encode(HubOtherEvent(
                callback_url: callbackURL(deliveryID, publicURL: publicURL), event: facts.kind,
                event_data: .init(actor: facts.actor, digest: facts.digest?.description, occurred_at: epoch(facts.occurredAt), tag: facts.tag),
                repository: repository(facts, publicURL: publicURL)))
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func callbackURL(_ deliveryID: String, publicURL: String) -> String {
        "\(trimmed(publicURL))/api/webhook-callbacks/\(deliveryID)"
    }

    /// The repository's page on the website.
    static func repositoryURL(_ name: RepositoryName, publicURL: String) -> String {
        name.namespace == "library" ? "\(trimmed(publicURL))/_/\(name.shortName)" : "\(trimmed(publicURL))/r/\(name.value)"
    }

    private static func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    private static func epoch(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }

    struct HubPush: Encodable {
        struct PushData: Encodable {
            let images: [String]; let media_type: String?; let pushed_at: Int64; let pusher: String; let tag: String?
        }
        let callback_url: String
        let push_data: PushData
        let repository: HubRepository
    }

    struct HubOtherEvent: Encodable {
        struct EventData: Encodable { let actor: String?; let digest: String?; let occurred_at: Int64; let tag: String? }
        let callback_url: String
        let event: String
        let event_data: EventData
        let repository: HubRepository
    }

    struct HubRepository: Encodable {
        let comment_count: Int
        let date_created: Int64
        let description: String
        let dockerfile: String
        let full_description: String
        let is_official: Bool
        let is_private: Bool
        let is_trusted: Bool
        let name: String
        let namespace: String
        let owner: String
        let repo_name: String
        let repo_url: String
        let star_count: Int64
        let status: String
    }

    private static func repository(_ facts: WebhookEventFacts, publicURL: String) -> HubRepository {
        let name = facts.repository
        return HubRepository(
            comment_count: 0, date_created: epoch(facts.info?.createdAt ?? facts.occurredAt), description: facts.info?.description ?? "",
            dockerfile: "", full_description: facts.info?.fullDescription ?? "", is_official: name.namespace == "library",
            is_private: facts.info?.isPrivate ?? false, is_trusted: false, name: String(name.shortName),
            namespace: String(name.namespace), owner: String(name.namespace), repo_name: name.value,
            repo_url: repositoryURL(name, publicURL: publicURL), star_count: facts.info?.starCount ?? 0,
            status: facts.info == nil ? "Deleted" : "Active")
    }

    struct CloudEvent: Encodable {
        struct Data: Encodable {
            let actor: String?; let digest: String?; let images: [String]?; let media_type: String?; let name: String
            let namespace: String; let pusher: String?; let repository: String; let tag: String?
        }
        let specversion = "1.0"
        let id: String
        let source: String
        let type: String
        let subject: String
        let time: String
        let datacontenttype = "application/json"
        let data: Data
    }

    private static func cloudEvent(_ facts: WebhookEventFacts, deliveryID: String, publicURL: String) -> CloudEvent {
        let name = facts.repository
        let isPush = facts.kind == HubEvent.Kind.push.rawValue || facts.kind == WebhookFormat.testEvent
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return CloudEvent(
            id: facts.eventID.map { "wharf-event-\($0)" } ?? deliveryID, source: repositoryURL(name, publicURL: publicURL),
            type: "dev.wharf.repository.\(facts.kind)", subject: facts.tag.map { "\(name.value):\($0)" } ?? name.value,
            time: formatter.string(from: facts.occurredAt),
            data: .init(actor: facts.actor, digest: facts.digest?.description, images: isPush ? facts.images : nil,
                        media_type: facts.mediaType, name: String(name.shortName), namespace: String(name.namespace),
                        pusher: isPush ? facts.actor ?? "" : nil, repository: name.value, tag: facts.tag))
    }
}

/// The body formats and event names webhooks know.
public enum WebhookFormat {
    /// Docker Hub's payload.
    public static let hub = "hub"
    /// CloudEvents 1.0, structured mode.
    public static let cloudEvents = "cloudevents"
    public static let all = [hub, cloudEvents]
    /// The events a webhook may subscribe to; a new one is added here (and recorded with `WebhookOutbox.publish`).
    public static let subscribable: [HubEvent.Kind] = [.push, .tagDelete, .repositoryDelete]
    /// The event name of a test delivery.
    public static let testEvent = "test"
}
