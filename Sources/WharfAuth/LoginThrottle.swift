import Foundation
import Synchronization

/// Slows down password guessing: after `maxFailures` failed logins within `window` for an account
/// or a client address, further attempts from it are refused until the lockout passes.
public final class LoginThrottle: Sendable {
    private struct Record {
        var failures: [Date] = []
        var lockedUntil: Date?
    }

    public let maxFailures: Int
    public let window: TimeInterval
    public let lockout: TimeInterval
    private let records = Mutex<[String: Record]>([:])

    public init(maxFailures: Int = 5, window: TimeInterval = 300, lockout: TimeInterval = 60) {
        self.maxFailures = maxFailures
        self.window = window
        self.lockout = lockout
    }

    /// Seconds to wait before another attempt for any of `keys` is allowed; nil when allowed now.
    public func retryAfter(_ keys: [String], now: Date = Date()) -> Int? {
        records.withLock { records in
            let waits = keys.compactMap { key -> TimeInterval? in
                guard let until = records[key]?.lockedUntil, until > now else { return nil }
                return until.timeIntervalSince(now)
            }
            return waits.max().map { max(1, Int($0.rounded(.up))) }
        }
    }

    /// Records a failed attempt for each key.
    public func recordFailure(_ keys: [String], now: Date = Date()) {
        records.withLock { records in
            for key in keys {
                var record = records[key] ?? Record()
                record.failures = record.failures.filter { now.timeIntervalSince($0) < window } + [now]
                if record.failures.count >= maxFailures {
                    record.lockedUntil = now.addingTimeInterval(lockout)
                    record.failures = []
                }
                records[key] = record
            }
            if records.count > 100_000 {
                records = records.filter { ($0.value.lockedUntil ?? .distantPast) > now || !$0.value.failures.isEmpty }
            }
        }
    }

    /// Forgets failures after a successful login.
    public func recordSuccess(_ keys: [String]) {
        records.withLock { records in
            for key in keys { records[key] = nil }
        }
    }
}
