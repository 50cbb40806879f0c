import Foundation
import Logging
import ServiceLifecycle
import WharfCore
import WharfMetadata

/// Runs one kind of background job.
public protocol JobHandler: Sendable {
    /// The kind of job this handler runs.
    var kind: String { get }
    /// Does the work and returns when to run it again (recurring jobs) or nil when it is done;
    /// throwing makes the worker retry it later with backoff.
    func run(_ job: Job) async throws -> Date?
}

/// Claims due jobs and runs them: the one mechanism for background work (upload expiry today;
/// webhook delivery, builds, GC and retention next). Any number of workers, in one process or
/// in several replicas, share the queue: a claim leases the job, the lease is renewed while the
/// handler runs, and a job whose holder died is taken over when its lease ends.
public struct JobWorker: Service {
    let jobs: any JobStore
    let handlers: [String: any JobHandler]
    let clock: any WallClock
    let logger: Logger
    /// Unique per worker: who holds a lease.
    public let owner: String
    /// How long a claim lasts without renewal.
    let lease: TimeInterval
    /// The longest an idle worker sleeps before looking again (other replicas may have queued work).
    let pollInterval: TimeInterval

    public init(jobs: any JobStore, handlers: [any JobHandler], clock: any WallClock, logger: Logger,
                owner: String = "worker-\(UUID().uuidString.prefix(8).lowercased())", lease: TimeInterval = 60,
                pollInterval: TimeInterval = 5) {
        self.jobs = jobs
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
        self.logger = logger
        self.owner = owner
        self.lease = lease
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        while !stopping {
            do {
                if try await runNext() { continue }
                // Nothing due: wait, with reads only (a claim is a write), until a job is due.
                while !stopping {
                    let wait = try await idleWait()
                    if wait <= 0 { break }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(wait)) }
                }
            } catch {
                logger.error("job queue unavailable", metadata: ["error": "\(error)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pollInterval)) }
            }
        }
    }

    private var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// Claims and runs one due job; false when none was due.
    @discardableResult
    public func runNext() async throws -> Bool {
        guard let job = try await jobs.claim(kinds: Array(handlers.keys), owner: owner, now: clock.now, lease: lease),
              let handler = handlers[job.kind] else { return false }
        let renewal = Task { [jobs, clock, owner, lease] in
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(lease / 3))
                guard try await jobs.renew(job.id, owner: owner, until: clock.now.addingTimeInterval(lease)) else { return }
            }
        }
        let outcome: Result<Date?, any Error>
        do {
            outcome = .success(try await handler.run(job))
        } catch {
            outcome = .failure(error)
        }
        // Never left running past this job (nor past the database's closing).
        renewal.cancel()
        _ = await renewal.result
        do {
            try await jobs.complete(job.id, owner: owner, nextRun: try outcome.get())
        } catch {
            let retry = job.attempts < job.maxAttempts ? clock.now.addingTimeInterval(Self.backoff(attempt: job.attempts)) : nil
            logger.warning("job failed", metadata: [
                "wharf.job": "\(job.id)", "wharf.job_kind": "\(job.kind)", "wharf.attempt": "\(job.attempts)",
                "error": "\(error)", "wharf.retry": "\(retry.map { "\($0)" } ?? "never")",
            ])
            try await jobs.fail(job.id, owner: owner, error: "\(error)", retryAt: retry)
        }
        return true
    }

    /// Seconds before attempt `attempt + 1`: 2, 4, 8 … capped at an hour.
    static func backoff(attempt: Int) -> TimeInterval {
        min(3600, pow(2, Double(max(1, min(attempt, 12)))))
    }

    /// Seconds until the next job is due (0: now), at most `pollInterval` (other replicas may queue work).
    private func idleWait() async throws -> Double {
        guard let due = try await jobs.nextDue(kinds: Array(handlers.keys)) else { return pollInterval }
        let wait = due.timeIntervalSince(clock.now)
        return wait <= 0 ? 0 : min(pollInterval, max(0.05, wait))
    }
}
