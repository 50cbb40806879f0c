import Foundation
import WharfCore

/// What the hub shows about repositories beyond the registry's own data: paged listings,
/// search, stars, pull counts, tag details and the platforms of images.
public protocol CatalogStore: Sendable {
    /// A page of the namespace's repositories: the public ones and the private ones `privates` allows.
    func repositoryPage(namespace: String, privates: PrivateVisibility, ordering: RepositoryOrdering,
                        offset: Int, limit: Int) async throws -> Page<RepositoryInfo>
    /// Repositories whose words (namespace, name, description) start with each of `words`, exact name
    /// matches first, then official (`library/`) ones, then by stars and pulls.
    func searchRepositories(words: [String], exactName: String, privates: PrivateVisibility,
                            offset: Int, limit: Int) async throws -> Page<RepositoryInfo>
    /// Public repositories by stars, then pulls, then most recently updated.
    func popularRepositories(limit: Int) async throws -> [RepositoryInfo]
    /// The private repositories matching `words` (for the caller's visibility to be decided on).
    func privateMatches(words: [String]) async throws -> [RepositoryName]

    /// Stars the repository for `account`; the new star count, nil when the repository does not exist.
    func star(_ repository: RepositoryName, by account: String) async throws -> Int64?
    /// Removes the star; the new star count, nil when the repository does not exist.
    func unstar(_ repository: RepositoryName, by account: String) async throws -> Int64?
    func hasStarred(_ repository: RepositoryName, by account: String) async throws -> Bool
    /// The repositories `account` starred, most recent first.
    func starredRepositories(of account: String) async throws -> [RepositoryInfo]

    /// Adds counted pulls (in one transaction that invalidates no cached read).
    func recordPulls(_ tallies: [PullTally]) async throws

    /// A page of the repository's tags, optionally only those whose name contains `nameContains`.
    func tagPage(in repository: RepositoryName, nameContains: String?, ordering: TagOrdering,
                 offset: Int, limit: Int) async throws -> Page<TagRecord>
    func tagRecord(_ tag: Tag, in repository: RepositoryName) async throws -> TagRecord?
    /// The media types of the manifests each repository's tags point at.
    func taggedMediaTypes(of repositories: [RepositoryName]) async throws -> [RepositoryName: Set<String>]
    /// The repository's manifests among `digests`, with when each was last pulled.
    func manifestRecords(_ digests: [Digest], in repository: RepositoryName) async throws -> [Digest: ManifestRecord]

    /// What is known about these image configs.
    func imageConfigs(_ digests: [Digest]) async throws -> [Digest: ImageConfigSummary]
    /// Remembers what an image config says (idempotent).
    func saveImageConfig(_ summary: ImageConfigSummary, for digest: Digest) async throws
}

/// One page of a listing and how many items all pages hold.
public struct Page<Item: Sendable>: Sendable {
    public var count: Int
    public var items: [Item]

    public init(count: Int, items: [Item]) {
        self.count = count
        self.items = items
    }
}

/// Which private repositories a listing may show.
public enum PrivateVisibility: Sendable, Equatable {
    case none
    case only([RepositoryName])
    case all
}

/// Orders of a repository listing, named as Docker Hub's `ordering` parameter.
public enum RepositoryOrdering: String, Sendable, CaseIterable {
    case name
    case nameDescending = "-name"
    case lastUpdated = "last_updated"
    case lastUpdatedDescending = "-last_updated"
    case pullCount = "pull_count"
    case pullCountDescending = "-pull_count"
    case starCount = "star_count"
    case starCountDescending = "-star_count"
}

/// Orders of a tag listing, named as Docker Hub's `ordering` parameter (whose `last_updated`
/// lists the most recent first).
public enum TagOrdering: String, Sendable, CaseIterable {
    case newest = "last_updated"
    case oldest = "-last_updated"
    case name
    case nameDescending = "-name"
}

/// Pulls of one reference counted in memory, to be added to the database.
public struct PullTally: Sendable, Equatable {
    public var repository: RepositoryName
    public var reference: Reference
    public var count: Int64
    public var lastPulledAt: Date

    public init(repository: RepositoryName, reference: Reference, count: Int64, lastPulledAt: Date) {
        self.repository = repository
        self.reference = reference
        self.count = count
        self.lastPulledAt = lastPulledAt
    }
}

/// A tag with its manifest and history.
public struct TagRecord: Sendable {
    public var name: String
    public var manifest: StoredManifest
    public var pushedAt: Date
    public var pushedBy: String?
    /// When the tag (or its manifest by digest) was last pulled.
    public var pulledAt: Date?
    /// When the manifest itself was last pulled.
    public var manifestPulledAt: Date?
}

/// A stored manifest and when it was last pulled.
public struct ManifestRecord: Sendable {
    public var manifest: StoredManifest
    public var pulledAt: Date?
}

/// What an image config says that the hub shows: its platform and build history.
public struct ImageConfigSummary: Sendable, Equatable, Codable {
    public struct HistoryEntry: Sendable, Equatable, Codable {
        public var createdBy: String
        public var emptyLayer: Bool

        public init(createdBy: String, emptyLayer: Bool) {
            self.createdBy = createdBy
            self.emptyLayer = emptyLayer
        }
    }

    public var os: String?
    public var architecture: String?
    public var variant: String?
    public var history: [HistoryEntry]

    public init(os: String?, architecture: String?, variant: String?, history: [HistoryEntry]) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
        self.history = history
    }
}
