import Foundation
import Synchronization
import WharfCore

/// Slows down password guessing: after `maxFailures` failed logins within `window` for one key,
/// further attempts for that key are refused until `lockout` passes. Callers choose the keys
/// (see `Authenticator`): a key locks only the attempts that share it.
public final class LoginThrottle: Sendable {
    private struct Record {
        var failures: [Date] = []
        var lockedUntil: Date?
    }

    public let maxFailures: Int
    public let window: TimeInterval
    public let lockout: TimeInterval
    private let clock: any WallClock
    private let records = Mutex<[String: Record]>([:])
    private let capacity = 100_000

    public init(maxFailures: Int = 5, window: TimeInterval = 300, lockout: TimeInterval = 60, clock: any WallClock = SystemClock()) {
        self.maxFailures = maxFailures
        self.window = window
        self.lockout = lockout
        self.clock = clock
    }

    /// Seconds to wait before another attempt for `key` is allowed; nil when allowed now.
    public func retryAfter(_ key: String) -> Int? {
        let now = clock.now
        return records.withLock { records in
            guard let until = records[key]?.lockedUntil, until > now else { return nil }
            return max(1, Int(until.timeIntervalSince(now).rounded(.up)))
        }
    }

    /// Records a failed attempt for `key`.
    public func recordFailure(_ key: String) {
        let now = clock.now
        records.withLock { records in
            var record = records[key] ?? Record()
            record.failures = record.failures.filter { now.timeIntervalSince($0) < window } + [now]
            if record.failures.count >= maxFailures {
                record.lockedUntil = now.addingTimeInterval(lockout)
                record.failures = []
            }
            records[key] = record
            if records.count > capacity {
                // Forget what no longer matters: ended lockouts and failures older than the window.
                records = records.filter { entry in
                    (entry.value.lockedUntil ?? .distantPast) > now
                        || entry.value.failures.contains { now.timeIntervalSince($0) < window }
                }
            }
        }
    }

    /// Forgets failures after a successful login.
    public func recordSuccess(_ key: String) {
        _ = records.withLock { $0.removeValue(forKey: key) }
    }
}
