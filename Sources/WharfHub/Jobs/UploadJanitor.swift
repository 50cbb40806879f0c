import Foundation
import Logging
import WharfCore
import WharfMetadata

/// Expires upload sessions idle for longer than `expiry` and reclaims their bytes (see
/// `Registry.expireUploads`). A recurring job: one row, queued again after each run, whose
/// unique key keeps it single however many replicas start.
public struct UploadJanitor: JobHandler {
    public static let kind = "upload-janitor"
    public var kind: String { Self.kind }

    let registry: Registry
    let expiry: TimeInterval
    let interval: TimeInterval
    let logger: Logger

    public init(registry: Registry, expiry: TimeInterval, interval: TimeInterval, logger: Logger) {
        self.registry = registry
        self.expiry = expiry
        self.interval = interval
        self.logger = logger
    }

    private var clock: any WallClock { registry.stores.clock }

    /// Queues the first sweep unless one is queued already.
    public func schedule(at time: Date) async throws {
        try await registry.stores.jobs.scheduleRecurring(Self.kind, at: time)
    }

    public func run(_ job: Job) async throws -> Date? {
        for session in try await registry.expireUploads(idleSince: clock.now.addingTimeInterval(-expiry)) {
            logger.info("upload expired", metadata: ["wharf.upload": "\(session.id)", "wharf.repository": "\(session.repository)"])
        }
        return clock.now.addingTimeInterval(interval)
    }
}
