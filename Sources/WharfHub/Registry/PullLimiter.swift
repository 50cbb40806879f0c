import Foundation
import Synchronization
import WharfCore
import WharfMetadata

/// Docker Hub's pull rate limits (off unless configured): manifest GETs per window, per client
/// address for anonymous callers and per account for authenticated ones (an administrator may
/// give an account its own limit). Counted in memory in fixed windows, per replica: N replicas
/// behind a load balancer allow up to N times the limit (documented).
public final class PullLimiter: Sendable {
    /// The limits; nil: unlimited.
    public struct Settings: Sendable, Equatable {
        public var anonymous: Int?
        public var authenticated: Int?
        /// Seconds of one window (Docker Hub: 6 hours).
        public var window: TimeInterval = 21600

        public init(anonymous: Int? = nil, authenticated: Int? = nil, window: TimeInterval = 21600) {
            self.anonymous = anonymous
            self.authenticated = authenticated
            self.window = window
        }

        /// Whether any limit is set.
        public var isEnabled: Bool { anonymous != nil || authenticated != nil }
    }

    /// What a caller may still pull, for the `ratelimit-*` headers.
    public struct Allowance: Sendable, Equatable {
        public var limit: Int
        public var remaining: Int
        public var window: Int
        /// Who is counted: the client address or the account.
        public var source: String
        /// Seconds until the window starts over.
        public var resetsIn: Int

        /// The headers Docker Hub sends on manifest GETs and HEADs.
        public var headers: [String: String] {
            ["ratelimit-limit": "\(limit);w=\(window)", "ratelimit-remaining": "\(remaining);w=\(window)", "docker-ratelimit-source": source]
        }
    }

    public let settings: Settings
    private let clock: any WallClock
    private let windows = Mutex<[String: (start: Double, count: Int)]>([:])

    public init(settings: Settings, clock: any WallClock) {
        self.settings = settings
        self.clock = clock
    }

    /// The limit that applies to `account`, nil when it may pull without one.
    public func limit(for account: Account) -> Int? {
        account.pullLimit ?? settings.authenticated
    }

    /// Counts one pull (`counts`: a manifest GET) by `account` or, anonymous, from `address`, and
    /// returns the allowance left; nil when no limit applies. Throws `TOOMANYREQUESTS` (with the
    /// headers) when the window's pulls are used up.
    public func admit(account: Account?, address: String?, counts: Bool) throws -> Allowance? {
        let limit: Int?
        let source: String
        if let account {
            (limit, source) = (self.limit(for: account), account.name)
        } else {
            (limit, source) = (settings.anonymous, address ?? "unknown")
        }
        guard let limit else { return nil }
        let key = account == nil ? "address:\(source)" : "account:\(source)"
        let now = clock.now.timeIntervalSince1970
        let window = settings.window
        let (used, start) = windows.withLock { windows -> (Int, Double) in
            if windows.count > 100_000 { windows = windows.filter { now - $0.value.start < window } }
            var entry = windows[key].flatMap { now - $0.start < window ? $0 : nil } ?? (start: now, count: 0)
            if counts && entry.count < limit { entry.count += 1 }
            else if counts { windows[key] = entry; return (limit + 1, entry.start) }
            windows[key] = entry
            return (entry.count, entry.start)
        }
        var allowance = Allowance(limit: limit, remaining: max(0, limit - used), window: Int(window), source: source,
                                  resetsIn: max(1, Int((start + window - now).rounded(.up))))
        if used > limit {
            allowance.remaining = 0
            var headers = allowance.headers
            headers["Retry-After"] = String(allowance.resetsIn)
            throw RegistryError(.tooManyRequests,
                                "You have reached your pull rate limit of \(limit) pulls per \(Int(window)) seconds"
                                + (account == nil ? "; log in (docker login) for the limit of accounts, or wait." : "; wait for the window to start over."),
                                headers: headers)
        }
        return allowance
    }
}
