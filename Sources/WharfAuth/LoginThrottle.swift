import Foundation
import WharfCore

/// Slows down password guessing: after `maxFailures` failed logins within `window` for one key,
/// further attempts for that key are refused until `lockout` passes. Callers choose the keys
/// (see `Authenticator`): a key locks only the attempts that share it.
public final class LoginThrottle: Sendable {
    private struct Record: Sendable {
        var failures: [Date] = []
        var lockedUntil: Date?
    }

    public let maxFailures: Int
    public let window: TimeInterval
    public let lockout: TimeInterval
    private let clock: any WallClock
    /// A record matters for at most a window plus a lockout; the oldest go first when full.
    private let records: BoundedCache<String, Record>

    public init(maxFailures: Int = 5, window: TimeInterval = 300, lockout: TimeInterval = 60, clock: any WallClock = SystemClock(),
                capacity: Int = 100_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.lockout = lockout
        self.clock = clock
        records = BoundedCache(budget: capacity, lifetime: window + lockout, clock: clock)
    }

    /// Seconds to wait before another attempt for `key` is allowed; nil when allowed now.
    public func retryAfter(_ key: String) -> Int? {
        let now = clock.now
        guard let until = records.value(key)?.lockedUntil, until > now else { return nil }
        return max(1, Int(until.timeIntervalSince(now).rounded(.up)))
    }

    /// Records a failed attempt for `key`. (Two racing failures may count as one: harmless.)
    public func recordFailure(_ key: String) {
        let now = clock.now
        var record = records.value(key) ?? Record()
        record.failures = record.failures.filter { now.timeIntervalSince($0) < window } + [now]
        if record.failures.count >= maxFailures {
            record.lockedUntil = now.addingTimeInterval(lockout)
            record.failures = []
        }
        records.store(record, for: key)
    }

    /// Forgets failures after a successful login.
    public func recordSuccess(_ key: String) {
        records.remove(key)
    }
}
