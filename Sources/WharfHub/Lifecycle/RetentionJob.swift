import Foundation
import Logging
import WharfCore
import WharfMetadata

/// Applies every repository's retention policy every `interval` seconds: a recurring job,
/// single however many replicas start.
public struct RetentionJob: JobHandler {
    public static let kind = "retention"
    public var kind: String { Self.kind }

    let retention: RetentionService
    let interval: TimeInterval
    let logger: Logger

    public init(retention: RetentionService, interval: TimeInterval, logger: Logger) {
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    private var stores: Stores { retention.registry.stores }

    /// Queues the first run one interval from now, unless one is queued already.
    public func schedule() async throws {
        try await stores.jobs.scheduleRecurring(Self.kind, at: stores.clock.now.addingTimeInterval(interval))
    }

    public func run(_ job: Job) async throws -> Date? {
        for repository in try await stores.policies.repositoriesWithRetention() {
            do {
                let deleted = try await AuditContext.$systemActor.withValue("system:retention") {
                    try await retention.apply(to: repository, dryRun: false, actor: nil)
                }
                if !deleted.isEmpty {
                    logger.info("retention deleted tags", metadata: ["wharf.repository": "\(repository.value)", "wharf.tags": "\(deleted)"])
                }
            } catch {
                logger.warning("retention failed", metadata: ["wharf.repository": "\(repository.value)", "error": "\(error)"])
            }
        }
        return stores.clock.now.addingTimeInterval(interval)
    }
}
