import Foundation
import Logging
import NIOCore
import WharfCore
import WharfMetadata
import WharfStorage

/// The registry's domain operations (OCI Distribution), independent of HTTP.
///
/// Repositories see blobs only through their links in the metadata store; blob bytes live once
/// in the blob store. Every failure a client can cause is thrown as a `RegistryError`; a push
/// that would create a private repository beyond its plan throws `HubError.limitReached`.
public struct Registry: Sendable {
    public let stores: Stores
    public let blobs: any BlobStore
    let settings: HubSettings
    /// Where events go, with their webhook deliveries.
    var outbox: WebhookOutbox { WebhookOutbox(settings: settings) }
    let hashes: UploadHashCache
    /// Pulls counted since the last flush.
    public let pulls = PullCounter()
    /// Pull rate limits (off unless configured).
    public let pullLimits: PullLimiter

    public init(stores: Stores, blobs: any BlobStore, settings: HubSettings) {
        self.stores = stores
        self.blobs = blobs
        self.settings = settings
        hashes = UploadHashCache(clock: stores.clock)
        pullLimits = PullLimiter(settings: settings.pullLimits, clock: stores.clock)
    }

    /// Counts a manifest GET (`counts`) against the caller's pull limit; nil when none applies.
    /// Throws `TOOMANYREQUESTS` when the limit is reached.
    public func admitPull(by account: String?, from address: String?, counts: Bool) async throws -> PullLimiter.Allowance? {
        guard let account else { return try pullLimits.admit(address: address, counts: counts) }
        let accounts = stores.accounts
        return try await pullLimits.admit(account: account, counts: counts) { try await accounts.account(account) }
    }

    /// Writes the pulls counted so far to the database (kept for the next flush when that fails).
    public func flushPulls() async throws {
        let tallies = pulls.drain()
        do {
            try await stores.catalog.recordPulls(tallies)
        } catch {
            pulls.restore(tallies)
            throw error
        }
    }

    var metadata: any MetadataStore { stores.metadata }

    // MARK: Blobs

    /// The size of a blob the repository links, nil when it does not.
    public func linkedBlobSize(_ digest: Digest, in repository: RepositoryName) async throws -> Int64? {
        try await metadata.linkedBlobSize(digest, in: repository)
    }

    /// Streams `range` (all when nil) of a stored blob to `consume`.
    public func readBlob(_ digest: Digest, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await blobs.read(digest, range: range, into: consume)
    }

    /// Where the client may fetch a blob directly (`--blob-redirect` on a store that can presign), if anywhere.
    public func blobRedirect(for digest: Digest) -> String? {
        settings.blobRedirectSeconds.flatMap { blobs.redirectURL(for: digest, expires: $0) }
    }

    /// Unlinks a blob from the repository (its bytes stay until garbage collection).
    public func deleteBlob(_ digest: Digest, in repository: RepositoryName) async throws {
        guard try await metadata.unlinkBlob(digest, from: repository) else {
            throw RegistryError.blobUnknown(digest)
        }
    }

    /// Links a blob the source repository has into `repository`; false when the source lacks it.
    public func mount(_ digest: Digest, from source: RepositoryName, into repository: RepositoryName, by actor: String?) async throws -> Bool {
        guard let size = try await metadata.linkedBlobSize(digest, in: source) else { return false }
        do {
            try await commit(into: repository, by: actor) { tx in
                try await StorageQuota.admit(digest, size: size, into: repository, tx: tx)
                try await tx.metadata.linkBlob(digest, size: size, into: repository)
            }
        } catch StoreError.blobBeingDeleted {
            return false  // the source lost it to garbage collection since: the client uploads it instead
        }
        return true
    }

    /// Runs `change` in one transaction after admitting the repository it may create (plan limit),
    /// recording `repository_create` when it does.
    func commit<R: Sendable>(into repository: RepositoryName, by actor: String?,
                             _ change: @escaping @Sendable (Stores) async throws -> R) async throws -> R {
        let settings = self.settings
        let now = stores.clock.now
        return try await stores.transaction { tx in
            let created = try await PlanLimit.admitPushed(repository, in: tx, settings: settings)
            let result = try await change(tx)
            if created {
                try await outbox.publish(HubEvent(kind: .repositoryCreate, repository: repository, actor: actor, createdAt: now), in: tx)
            }
            return result
        }
    }

    /// Whether the database answers.
    public func checkHealth() async throws {
        try await stores.checkHealth()
        try await blobs.checkHealth()
    }
}

extension Registry {
    /// The manifest stored under `digest` in the repository (blob GETs serve manifests too, as Distribution does).
    public func manifest(_ digest: Digest, in repository: RepositoryName) async throws -> StoredManifest? {
        try await metadata.manifest(digest, in: repository)
    }

    /// Upload sessions in progress.
    public func openUploadCount() async throws -> Int {
        try await metadata.openUploadCount()
    }

    /// Bytes of all stored blobs, each counted once.
    public func storedBytes() async throws -> Int64 {
        try await metadata.storedBytes()
    }
}
