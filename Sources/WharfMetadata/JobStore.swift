import Foundation

/// A unit of background work: a row that any replica's worker may claim.
public struct Job: Sendable, Equatable {
    public var id: Int64
    /// Which handler runs it (`upload-janitor`, later `webhook-delivery`, `build`, `gc`…).
    public var kind: String
    /// What the handler needs, usually JSON.
    public var payload: String
    public var runAt: Date
    /// Attempts started so far, this one included once claimed.
    public var attempts: Int
    public var maxAttempts: Int
    public var lastError: String?
    /// The worker holding the job, until `leaseUntil`.
    public var leaseOwner: String?
    public var leaseUntil: Date?
    /// `queued`, or `dead` after its last failed attempt.
    public var state: String
}

/// The job queue. A claimed job is leased: if its holder dies, the lease runs out and another
/// worker takes it over. Claims never hand the same job to two live holders.
public protocol JobStore: Sendable {
    /// Queues a job. With a `uniqueKey`, does nothing when a job with that key is already queued
    /// (singletons such as a periodic sweep); returns whether a job was added.
    @discardableResult
    func enqueue(kind: String, payload: String, runAt: Date, maxAttempts: Int, uniqueKey: String?) async throws -> Bool
    /// Makes sure the job with `uniqueKey` runs: queues it, due at `runAt`, when none is queued; when
    /// one is (perhaps running right now), marks it woken, so that finishing it without a next run
    /// runs it once more instead of removing it. Inside a transaction, the wake commits with the change.
    func wake(kind: String, payload: String, uniqueKey: String, runAt: Date, maxAttempts: Int) async throws
    /// Leases the oldest due job of one of `kinds` to `owner` until `now + lease`; nil when none is due.
    func claim(kinds: [String], owner: String, now: Date, lease: TimeInterval) async throws -> Job?
    /// Extends a lease still held by `owner`; false when it was lost.
    func renew(_ id: Int64, owner: String, until: Date) async throws -> Bool
    /// Finishes a job held by `owner`: removed, or for a recurring job queued again at `nextRun`
    /// (same row, same unique key, attempts reset). A job woken since its claim and finished
    /// without a next run is queued again, due now.
    func complete(_ id: Int64, owner: String, nextRun: Date?) async throws
    /// Records a failure: the job runs again at `retryAt`, or stays `dead` when nil.
    func fail(_ id: Int64, owner: String, error: String, retryAt: Date?) async throws
    /// When the next job of `kinds` is due (nil: none queued), so an idle worker knows how long to sleep.
    func nextDue(kinds: [String]) async throws -> Date?
    /// Ends every lease: for a database only this process uses (SQLite), whose earlier holders died with the previous run.
    func releaseLeases() async throws
    /// Every job, for operators and tests.
    func jobs() async throws -> [Job]
}

extension JobStore {
    /// Queues the recurring job `kind` (one row, its kind as unique key) due at `time`, unless it
    /// is queued already: however many replicas start, it stays single.
    public func scheduleRecurring(_ kind: String, at time: Date) async throws {
        try await enqueue(kind: kind, payload: "{}", runAt: time, maxAttempts: 1_000_000, uniqueKey: kind)
    }
}
