import Foundation
import Logging
import WharfCore
import WharfMetadata
import WharfStorage

/// Expires upload sessions idle for longer than `expiry` and reclaims their bytes, along with
/// staged bytes no session owns (left by a crash). A recurring job: one row, queued again after
/// each run, whose unique key keeps it single however many replicas start.
public struct UploadJanitor: JobHandler {
    public static let kind = "upload-janitor"
    public var kind: String { Self.kind }

    let stores: Stores
    let blobs: any BlobStore
    let expiry: TimeInterval
    let interval: TimeInterval
    let logger: Logger

    public init(stores: Stores, blobs: any BlobStore, expiry: TimeInterval, interval: TimeInterval, logger: Logger) {
        self.stores = stores
        self.blobs = blobs
        self.expiry = expiry
        self.interval = interval
        self.logger = logger
    }

    /// Queues the next sweep unless one is queued already.
    public func schedule(at time: Date) async throws {
        try await stores.jobs.enqueue(kind: Self.kind, payload: "{}", runAt: time, maxAttempts: 1_000_000, uniqueKey: Self.kind)
    }

    public func run(_ job: Job) async throws -> Date? {
        try await sweep(now: stores.clock.now)
        return stores.clock.now.addingTimeInterval(interval)
    }

    /// Removes expired sessions and orphaned staged bytes.
    public func sweep(now: Date) async throws {
        let cutoff = now.addingTimeInterval(-expiry)
        for session in try await stores.metadata.uploads(idleSince: cutoff) {
            if try await stores.metadata.deleteUpload(session.id) {
                try await blobs.deleteUpload(session.id)
                logger.info("upload expired", metadata: ["wharf.upload": "\(session.id)", "wharf.repository": "\(session.repository)"])
            }
        }
        for staged in try await blobs.stagedUploads() where staged.modified < cutoff.timeIntervalSince1970 {
            if try await stores.metadata.upload(staged.id) == nil {
                try await blobs.deleteUpload(staged.id)
            }
        }
    }
}
