import Foundation
import Logging
import WharfCore
import WharfMetadata

/// Forgets website sessions idle for longer than their lifetime (they are refused already; this
/// only keeps the table small). A recurring job, single however many replicas start.
public struct SessionJanitor: JobHandler {
    public static let kind = "session-janitor"
    public var kind: String { Self.kind }

    let sessions: WebSessionService
    let interval: TimeInterval
    let logger: Logger

    public init(sessions: WebSessionService, interval: TimeInterval = 3600, logger: Logger) {
        self.sessions = sessions
        self.interval = interval
        self.logger = logger
    }

    private var stores: Stores { sessions.stores }

    /// Queues the first sweep unless one is queued already.
    public func schedule(at time: Date) async throws {
        try await stores.jobs.scheduleRecurring(Self.kind, at: time)
    }

    public func run(_ job: Job) async throws -> Date? {
        let now = stores.clock.now
        let removed = try await stores.sessions.deleteSessions(idleSince: now.addingTimeInterval(-sessions.idleLifetime))
        if removed > 0 { logger.info("idle website sessions removed", metadata: ["wharf.count": "\(removed)"]) }
        return now.addingTimeInterval(interval)
    }
}
