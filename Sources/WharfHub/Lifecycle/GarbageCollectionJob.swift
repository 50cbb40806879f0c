import Foundation
import Logging
import WharfCore
import WharfMetadata

/// Runs garbage collection every `interval` seconds: a recurring job, single however many
/// replicas start (the job queue's lease keeps two from collecting at once).
public struct GarbageCollectionJob: JobHandler {
    public static let kind = "gc"
    public var kind: String { Self.kind }

    let collector: GarbageCollector
    let policy: GarbageCollector.Policy
    let interval: TimeInterval
    /// Told every report (metrics).
    let observe: @Sendable (GarbageCollectionReport) -> Void

    public init(collector: GarbageCollector, policy: GarbageCollector.Policy, interval: TimeInterval,
                observe: @escaping @Sendable (GarbageCollectionReport) -> Void) {
        self.collector = collector
        self.policy = policy
        self.interval = interval
        self.observe = observe
    }

    private var clock: any WallClock { collector.registry.stores.clock }

    /// Queues the first run one interval from now, unless one is queued already.
    public func schedule() async throws {
        try await collector.registry.stores.jobs.scheduleRecurring(Self.kind, at: clock.now.addingTimeInterval(interval))
    }

    public func run(_ job: Job) async throws -> Date? {
        observe(try await collector.run(policy, dryRun: false))
        return clock.now.addingTimeInterval(interval)
    }
}
