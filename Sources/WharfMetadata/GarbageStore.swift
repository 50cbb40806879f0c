import Foundation
import WharfCore

/// What online garbage collection reads and deletes. Every delete re-checks, in its transaction,
/// the condition that chose its rows: a push that linked, tagged or referenced them since makes
/// them live again and they stay.
public protocol GarbageStore: Sendable {
    /// Untagged manifests due by policy: untagged since `cutoff` or earlier, not a child of an index
    /// of their repository, not the subject of a referrer there, and not a referrer whose subject is
    /// still there. At most `limit`, in (repository, digest) order after `after`.
    func collectableManifests(untaggedBefore cutoff: Date, after: ManifestKey?, limit: Int) async throws -> [ManifestKey]
    /// Deletes those of `keys` that are still collectable; returns them.
    func deleteCollectableManifests(_ keys: [ManifestKey], untaggedBefore cutoff: Date) async throws -> [ManifestKey]

    /// Links that no manifest of their repository references, made (or last used) before `cutoff`.
    func unreferencedLinks(linkedBefore cutoff: Date, after: BlobLink?, limit: Int) async throws -> [BlobLink]
    /// Deletes those of `links` that are still unreferenced and old enough; returns them.
    func deleteUnreferencedLinks(_ links: [BlobLink], linkedBefore cutoff: Date) async throws -> [BlobLink]

    /// Notes `now` as the time each blob nothing links or uploads was first seen so.
    func markOrphans(at now: Date) async throws
    /// Blobs seen unlinked since `cutoff` or earlier and not claimed, in digest order after `after`.
    func orphanedBlobs(before cutoff: Date, after: Digest?, limit: Int) async throws -> [StoredBlob]
    /// Claims for deletion those of `digests` that are still orphans since `cutoff` or earlier:
    /// from then on nothing links or uploads them until `forgetBlobs`. Returns the claimed ones.
    func claimBlobs(_ digests: [Digest], orphanedBefore cutoff: Date, at now: Date) async throws -> [StoredBlob]
    /// Claims a stored object the database does not know (bytes left by a crash) when still unknown.
    func claimUnknownBlob(_ blob: StoredBlob, at now: Date) async throws -> Bool
    /// Which of `digests` the database knows.
    func knownBlobs(_ digests: [Digest]) async throws -> Set<Digest>
    /// Blobs claimed before `cutoff` and never forgotten (their collector died).
    func abandonedClaims(before cutoff: Date) async throws -> [StoredBlob]
    /// Removes claimed blobs whose bytes are gone.
    func forgetBlobs(_ digests: [Digest]) async throws
}

/// A digest in a repository: a manifest of it, or its link to a blob.
public struct RepositoryDigest: Sendable, Hashable {
    public var repository: RepositoryName
    public var digest: Digest

    public init(repository: RepositoryName, digest: Digest) {
        self.repository = repository
        self.digest = digest
    }
}

/// A manifest of a repository.
public typealias ManifestKey = RepositoryDigest
/// A repository's link to a blob.
public typealias BlobLink = RepositoryDigest

/// A blob and its size.
public struct StoredBlob: Sendable, Hashable {
    public var digest: Digest
    public var size: Int64

    public init(digest: Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}
