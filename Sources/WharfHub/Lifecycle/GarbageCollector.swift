import Foundation
import Logging
import WharfAuth
import WharfCore
import WharfMetadata
import WharfStorage

/// Online garbage collection: reclaims the bytes of blobs no repository uses any more while the
/// registry keeps serving pushes and pulls (no read-only window).
///
/// One run, in order: untagged manifests due by policy are deleted (with `manifest_delete`
/// events), then links no manifest of their repository references (older than the grace period),
/// then blobs nothing links or uploads for at least the grace period lose their bytes — each
/// claimed in the database first, so that a push of the same blob waits for the deletion and
/// stores it again — and finally bytes the database never knew (left by a crash) go too.
/// A dry run does the metadata steps in a transaction it rolls back, so it reports what a real
/// run would do now.
public struct GarbageCollector: Sendable {
    let registry: Registry
    let access: Access
    let logger: Logger

    /// What may be collected, and when.
    public struct Policy: Sendable, Equatable {
        /// How long a blob stays unlinked (and a link unused) before it goes.
        public var gracePeriod: TimeInterval
        /// How long a manifest stays untagged before it goes (when nothing keeps it); nil keeps them all.
        public var untaggedManifestAge: TimeInterval?

        public init(gracePeriod: TimeInterval = 3600, untaggedManifestAge: TimeInterval? = 86400) {
            self.gracePeriod = gracePeriod
            self.untaggedManifestAge = untaggedManifestAge
        }
    }

    public init(registry: Registry, access: Access, logger: Logger) {
        self.registry = registry
        self.access = access
        self.logger = logger
    }

    /// Runs a collection for an administrator (`POST /api/admin/gc`): the server's policy, with
    /// another grace period when given.
    public func run(dryRun: Bool, gracePeriod: TimeInterval?, by principal: Principal?) async throws -> GarbageCollectionReport {
        try access.require(principal, .administerServer)
        var policy = registry.settings.garbageCollection
        if let gracePeriod {
            guard gracePeriod >= 0, gracePeriod <= 365 * 86400 else {
                throw HubError.invalid("grace_period", "grace_period must be between 0 and 31536000 seconds")
            }
            policy.gracePeriod = gracePeriod
        }
        return try await run(policy, dryRun: dryRun)
    }

    private var stores: Stores { registry.stores }
    private static let batch = 500

    /// Runs one collection (or, with `dryRun`, reports what one would reclaim now). What it
    /// deletes is audited as done by `system:gc`, with one `gc` entry for the whole run.
    public func run(_ policy: Policy, dryRun: Bool) async throws -> GarbageCollectionReport {
        try await AuditContext.$systemActor.withValue("system:gc") {
            let report = try await collect(policy, dryRun: dryRun)
            if !dryRun {
                try await stores.transaction { tx in
                    try await AuditTrail.record("gc", actor: nil, namespace: nil, details: [
                        "blobs": String(report.blobs), "manifests": String(report.manifests), "bytes": String(report.bytes),
                        "grace_period": String(policy.gracePeriod),
                    ], in: tx)
                }
            }
            return report
        }
    }

    private func collect(_ policy: Policy, dryRun: Bool) async throws -> GarbageCollectionReport {
        let started = stores.clock.now
        var report: GarbageCollectionReport
        if dryRun {
            report = try await simulate(policy, at: started)
        } else {
            report = GarbageCollectionReport(dryRun: false)
            logger.info("garbage collection started", metadata: ["wharf.gc.grace_period": "\(policy.gracePeriod)"])
            try await collectMetadata(policy, at: started, in: stores, into: &report)
            logger.info("garbage collection: metadata done", metadata: [
                "wharf.gc.manifests": "\(report.manifests)", "wharf.gc.links": "\(report.links)",
            ])
            try await deleteOrphans(before: started.addingTimeInterval(-policy.gracePeriod), at: started, into: &report)
            try await retryAbandonedClaims(at: started, into: &report)
            logger.info("garbage collection: unlinked blobs done", metadata: ["wharf.gc.blobs": "\(report.blobs)", "wharf.gc.bytes": "\(report.bytes)"])
        }
        try await sweepUnknownBytes(before: started.addingTimeInterval(-policy.gracePeriod), at: started, dryRun: dryRun, into: &report)
        report.startedAt = started
        report.duration = stores.clock.now.timeIntervalSince(started)
        logger.info("garbage collection \(dryRun ? "dry run " : "")done", metadata: [
            "wharf.gc.manifests": "\(report.manifests)", "wharf.gc.blobs": "\(report.blobs)",
            "wharf.gc.bytes": "\(report.bytes)", "wharf.gc.seconds": "\(report.duration)",
        ])
        return report
    }

    /// The metadata steps in a transaction that is rolled back, and the blobs they would orphan.
    private func simulate(_ policy: Policy, at now: Date) async throws -> GarbageCollectionReport {
        struct RolledBack: Error { let report: GarbageCollectionReport }
        do {
            _ = try await stores.transaction { tx in
                var report = GarbageCollectionReport(dryRun: true)
                try await collectMetadata(policy, at: now, in: tx, into: &report)
                var after: Digest?
                while true {
                    let orphans = try await tx.garbage.orphanedBlobs(before: now.addingTimeInterval(-policy.gracePeriod), after: after,
                                                                     limit: Self.batch)
                    guard let last = orphans.last else { break }
                    orphans.forEach { report.add($0) }
                    after = last.digest
                }
                throw RolledBack(report: report)
            }
            fatalError("unreachable: the dry run's transaction always rolls back")
        } catch let rolledBack as RolledBack {
            return rolledBack.report
        }
    }

    /// Deletes due untagged manifests, then unused links, then notes blobs that became orphans.
    private func collectMetadata(_ policy: Policy, at now: Date, in stores: Stores, into report: inout GarbageCollectionReport) async throws {
        if let age = policy.untaggedManifestAge {
            let cutoff = now.addingTimeInterval(-age)
            // Deleting an index or a referrer can make its children or subject collectable: go again until none is.
            var progress = true
            while progress {
                progress = false
                var after: ManifestKey?
                while true {
                    let candidates = try await stores.garbage.collectableManifests(untaggedBefore: cutoff, after: after, limit: Self.batch)
                    guard let last = candidates.last else { break }
                    after = last
                    let deleted = try await deleteManifests(candidates, untaggedBefore: cutoff, at: now, in: stores)
                    deleted.forEach { report.add($0) }
                    progress = progress || !deleted.isEmpty
                }
            }
        }
        let linkCutoff = now.addingTimeInterval(-policy.gracePeriod)
        var after: BlobLink?
        while true {
            let links = try await stores.garbage.unreferencedLinks(linkedBefore: linkCutoff, after: after, limit: Self.batch)
            guard let last = links.last else { break }
            after = last
            report.links += try await stores.garbage.deleteUnreferencedLinks(links, linkedBefore: linkCutoff).count
        }
        try await stores.garbage.markOrphans(at: now)
    }

    /// Deletes those of `candidates` still collectable, publishing a `manifest_delete` event for each.
    private func deleteManifests(_ candidates: [ManifestKey], untaggedBefore cutoff: Date, at now: Date, in stores: Stores) async throws -> [ManifestKey] {
        let outbox = registry.outbox
        return try await stores.transaction { tx in
            let deleted = try await tx.garbage.deleteCollectableManifests(candidates, untaggedBefore: cutoff)
            for key in deleted {
                try await outbox.publish(HubEvent(kind: .manifestDelete, repository: key.repository, actor: nil,
                                                  digest: key.digest, createdAt: now), in: tx)
            }
            return deleted
        }
    }

    /// Claims, deletes the bytes of, and forgets every blob orphaned since `cutoff` or earlier.
    private func deleteOrphans(before cutoff: Date, at now: Date, into report: inout GarbageCollectionReport) async throws {
        var after: Digest?
        while true {
            let orphans = try await stores.garbage.orphanedBlobs(before: cutoff, after: after, limit: Self.batch)
            guard let last = orphans.last else { break }
            after = last.digest
            let claimed = try await stores.garbage.claimBlobs(orphans.map(\.digest), orphanedBefore: cutoff, at: now)
            try await deleteBytes(of: claimed, into: &report)
        }
    }

    /// Deletes the bytes of claimed blobs, then forgets them. A blob whose deletion fails stays
    /// claimed; the next run finishes it (`retryAbandonedClaims`).
    private func deleteBytes(of claimed: [StoredBlob], into report: inout GarbageCollectionReport) async throws {
        var gone: [Digest] = []
        for blob in claimed {
            do {
                try await registry.blobs.delete(blob.digest)
                gone.append(blob.digest)
                report.add(blob)
            } catch {
                logger.warning("garbage collection could not delete a blob", metadata: ["wharf.digest": "\(blob.digest)", "error": "\(error)"])
            }
        }
        try await stores.garbage.forgetBlobs(gone)
    }

    /// Finishes deletions whose collector died between claiming and forgetting.
    private func retryAbandonedClaims(at now: Date, into report: inout GarbageCollectionReport) async throws {
        let abandoned = try await stores.garbage.abandonedClaims(before: now.addingTimeInterval(-BlobReservation.abandonedClaimAge / 2))
        try await deleteBytes(of: abandoned, into: &report)
    }

    /// Bytes in storage the database does not know, older than `cutoff`: claimed, then deleted.
    private func sweepUnknownBytes(before cutoff: Date, at now: Date, dryRun: Bool, into report: inout GarbageCollectionReport) async throws {
        let stored = try await registry.blobs.storedBlobs().filter { $0.modified < cutoff }
        for start in stride(from: 0, to: stored.count, by: Self.batch) {
            let slice = stored[start..<min(start + Self.batch, stored.count)]
            let known = try await stores.garbage.knownBlobs(slice.map(\.digest))
            for object in slice where !known.contains(object.digest) {
                let blob = StoredBlob(digest: object.digest, size: object.size)
                if dryRun {
                    report.add(blob)
                } else if try await stores.garbage.claimUnknownBlob(blob, at: now) {
                    try await deleteBytes(of: [blob], into: &report)
                }
            }
        }
    }
}

/// What a garbage collection reclaimed (or, for a dry run, would reclaim).
public struct GarbageCollectionReport: Sendable, Equatable {
    public var dryRun: Bool
    /// Blobs whose bytes were deleted.
    public var blobs = 0
    /// Untagged manifests deleted.
    public var manifests = 0
    /// Bytes of the deleted blobs.
    public var bytes: Int64 = 0
    /// Repository links to blobs removed.
    public var links = 0
    /// The deleted manifests and blobs, the first `listLimit` of each.
    public var deletedManifests: [ManifestKey] = []
    public var deletedBlobs: [StoredBlob] = []
    public var startedAt = Date(timeIntervalSince1970: 0)
    public var duration: TimeInterval = 0

    static let listLimit = 100_000

    public init(dryRun: Bool) {
        self.dryRun = dryRun
    }

    mutating func add(_ blob: StoredBlob) {
        blobs += 1
        bytes += blob.size
        if deletedBlobs.count < Self.listLimit { deletedBlobs.append(blob) }
    }

    mutating func add(_ manifest: ManifestKey) {
        manifests += 1
        if deletedManifests.count < Self.listLimit { deletedManifests.append(manifest) }
    }
}
