import Foundation
import WharfCore

/// Everything the registry knows besides blob bytes: repositories, which blobs each repository
/// links, manifests with their references, tags, and upload sessions.
///
/// Every method is one atomic step: a crash leaves either all of it or none of it.
public protocol MetadataStore: Sendable {
    /// Fails when the database cannot be queried.
    func checkHealth() async throws

    // MARK: Repositories

    /// Whether the repository exists (has ever had content linked and was not deleted).
    func repositoryExists(_ name: RepositoryName) async throws -> Bool
    /// Repository names in lexical order, strictly after `last`, at most `limit`.
    func repositories(after last: String?, limit: Int) async throws -> [RepositoryName]
    func repositoryInfo(_ name: RepositoryName) async throws -> RepositoryInfo?
    /// Creates an empty repository; throws `StoreError.exists` when it exists.
    func createRepository(_ name: RepositoryName, isPrivate: Bool, description: String) async throws -> RepositoryInfo
    /// Applies visibility, description and/or README; returns the changed repository, nil when it does not exist.
    func updateRepository(_ name: RepositoryName, isPrivate: Bool?, description: String?, fullDescription: String?) async throws -> RepositoryInfo?
    /// Creates the repository as a push does (private when its namespace's default says so) unless
    /// it exists; true when this call created it (exact under concurrent pushes).
    func createPushedRepository(_ name: RepositoryName) async throws -> Bool
    /// Private repositories in the namespace.
    func privateRepositoryCount(in namespace: String) async throws -> Int
    /// Repositories of a namespace, by name.
    func repositories(in namespace: String) async throws -> [RepositoryInfo]
    /// Deletes the repository with its manifests, tags, links and grants; false when unknown.
    func deleteRepository(_ name: RepositoryName) async throws -> Bool

    // MARK: Blobs

    /// The size of `digest` if the repository links it.
    func linkedBlobSize(_ digest: Digest, in repository: RepositoryName) async throws -> Int64?
    /// Which of `digests` the repository links.
    func linkedBlobs(_ digests: [Digest], in repository: RepositoryName) async throws -> Set<Digest>
    /// Links a stored blob into the repository, creating the repository if needed.
    func linkBlob(_ digest: Digest, size: Int64, into repository: RepositoryName) async throws
    /// Removes the repository's link to the blob; false when there was none.
    func unlinkBlob(_ digest: Digest, from repository: RepositoryName) async throws -> Bool

    // MARK: Manifests and tags

    /// Stores a manifest (idempotent by digest) and, when given, points `tag` at it, pushed by `pusher`.
    func putManifest(_ manifest: StoredManifest, tag: Tag?, in repository: RepositoryName, pushedBy pusher: String?) async throws
    /// The manifest with `digest` in the repository.
    func manifest(_ digest: Digest, in repository: RepositoryName) async throws -> StoredManifest?
    /// The manifest `tag` points to, in one read.
    func manifest(taggedWith tag: Tag, in repository: RepositoryName) async throws -> StoredManifest?
    /// The digest `tag` points to.
    func taggedDigest(_ tag: Tag, in repository: RepositoryName) async throws -> Digest?
    /// Which of `digests` are manifests of the repository.
    func existingManifests(_ digests: [Digest], in repository: RepositoryName) async throws -> Set<Digest>
    /// Deletes the manifest and every tag pointing to it; false when unknown.
    func deleteManifest(_ digest: Digest, in repository: RepositoryName) async throws -> Bool
    /// Deletes only the tag; false when unknown.
    func deleteTag(_ tag: Tag, in repository: RepositoryName) async throws -> Bool
    /// The tags pointing at `digest`, in byte order.
    func tags(pointingAt digest: Digest, in repository: RepositoryName) async throws -> [String]
    /// Every tag of the repository, in byte order.
    func tagList(in repository: RepositoryName) async throws -> TagList
    /// Manifests of the repository whose subject is `digest`, optionally of one artifact type.
    func referrers(of digest: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [StoredManifest]

    // MARK: Uploads

    func createUpload(_ upload: UploadSession) async throws
    func upload(_ id: String) async throws -> UploadSession?
    /// Records the new size of an upload, the digest of its bytes so far and its activity time.
    func updateUpload(_ id: String, size: Int64, stagedDigest: Digest?, at time: Date) async throws
    /// Before an upload's bytes are stored as `digest`: records the blob and pins it to the upload,
    /// so that garbage collection cannot delete its bytes between their commit and the link.
    func reserveBlob(_ digest: Digest, size: Int64, forUpload id: String) async throws -> BlobReservation
    /// Ends the upload and links its blob into the repository, in one step; `StoreError.notFound` when unknown.
    func completeUpload(_ id: String, digest: Digest, size: Int64) async throws
    /// Ends the upload without a blob; false when unknown.
    func deleteUpload(_ id: String) async throws -> Bool
    /// Uploads idle since before `time`.
    func uploads(idleSince time: Date) async throws -> [UploadSession]

    // MARK: Statistics

    func openUploadCount() async throws -> Int
    /// Bytes of all blobs known to the registry (each counted once).
    func storedBytes() async throws -> Int64
}

/// A manifest as stored: exact bytes plus what was indexed from them.
public struct StoredManifest: Sendable, Equatable {
    public var digest: Digest
    public var mediaType: String
    public var content: [UInt8]
    public var artifactType: String?
    public var subject: Digest?
    public var annotations: [String: String]?
    /// Blobs (config, layers) this manifest references.
    public var blobReferences: [Digest]
    /// Child manifests this index references.
    public var manifestReferences: [Digest]
    public var createdAt: Date

    public init(digest: Digest, mediaType: String, content: [UInt8], artifactType: String? = nil,
                subject: Digest? = nil, annotations: [String: String]? = nil,
                blobReferences: [Digest] = [], manifestReferences: [Digest] = [], createdAt: Date = Date()) {
        self.digest = digest
        self.mediaType = mediaType
        self.content = content
        self.artifactType = artifactType
        self.subject = subject
        self.annotations = annotations
        self.blobReferences = blobReferences
        self.manifestReferences = manifestReferences
        self.createdAt = createdAt
    }
}

/// An upload in progress.
public struct UploadSession: Sendable, Equatable {
    public var id: String
    public var repository: RepositoryName
    /// Bytes received so far.
    public var size: Int64
    /// The digest of those `size` bytes, recorded with them by the request that received the
    /// last of them (on any replica); nil before the first chunk.
    public var stagedDigest: Digest?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, repository: RepositoryName, size: Int64 = 0, stagedDigest: Digest? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.repository = repository
        self.size = size
        self.stagedDigest = stagedDigest
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

extension MetadataStore {
    /// Stores a manifest pushed by nobody in particular.
    public func putManifest(_ manifest: StoredManifest, tag: Tag?, in repository: RepositoryName) async throws {
        try await putManifest(manifest, tag: tag, in: repository, pushedBy: nil)
    }

    /// Applies visibility and/or description.
    public func updateRepository(_ name: RepositoryName, isPrivate: Bool?, description: String?) async throws -> RepositoryInfo? {
        try await updateRepository(name, isPrivate: isPrivate, description: description, fullDescription: nil)
    }

    /// Tag names in byte order, strictly after `last`, at most `limit`.
    public func tags(in repository: RepositoryName, after last: String?, limit: Int) async throws -> [String] {
        Array(try await tagList(in: repository).page(after: last, limit: limit))
    }
}

/// What reserving a blob for an upload found.
public enum BlobReservation: Sendable, Equatable {
    /// Pinned: the upload may store and link its bytes.
    case reserved
    /// Garbage collection is deleting the blob's bytes right now: try again shortly.
    case beingDeleted
    /// The upload session is gone.
    case uploadUnknown

    /// After how long a collector's claim is taken for abandoned (the collector died mid-way;
    /// collectors give up on a blob's deletion long before).
    public static let abandonedClaimAge: TimeInterval = 600
}
