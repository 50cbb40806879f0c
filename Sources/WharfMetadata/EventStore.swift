import Foundation
import WharfCore

/// Something that happened to a repository, recorded in the same transaction as the change
/// (an outbox): webhooks and audit read it later, and no committed change lacks its event.
public struct HubEvent: Sendable, Equatable {
    /// What happened. New kinds are added here and nowhere else.
    public enum Kind: String, Sendable, CaseIterable {
        /// A tag now points at a manifest.
        case push
        case tagDelete = "tag_delete"
        case manifestDelete = "manifest_delete"
        case repositoryCreate = "repository_create"
        case repositoryDelete = "repository_delete"
        /// The repository became public or private.
        case repositoryVisibility = "repository_visibility"
    }

    /// Assigned by the store, increasing.
    public var id: Int64?
    public var kind: Kind
    public var repository: RepositoryName
    /// The account that caused it; nil for anonymous or the system.
    public var actor: String?
    public var tag: String?
    public var digest: Digest?
    public var createdAt: Date

    public init(id: Int64? = nil, kind: Kind, repository: RepositoryName, actor: String?, tag: String? = nil,
                digest: Digest? = nil, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.repository = repository
        self.actor = actor
        self.tag = tag
        self.digest = digest
        self.createdAt = createdAt
    }
}

/// The events outbox.
public protocol EventStore: Sendable {
    /// Appends `event` and returns its id; inside a `Stores.transaction` it commits or rolls back with the change.
    @discardableResult
    func record(_ event: HubEvent) async throws -> Int64
    /// Events with an id greater than `id`, oldest first, at most `limit`.
    func events(after id: Int64, limit: Int) async throws -> [HubEvent]
}
