import Foundation
import Synchronization
import WharfCore
import WharfMetadata

/// Docker Hub's pull rate limits (off unless configured): manifest GETs per window, per client
/// address for anonymous callers and per account for authenticated ones (an administrator may
/// give an account its own limit). Counted in memory in fixed windows, per replica: N replicas
/// behind a load balancer allow up to N times the limit (documented). An account's own limit is
/// read from the database at most every `limitLifetime` seconds.
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

        /// The headers Docker Hub sends on manifest GETs and HEADs: `ratelimit-limit`, `ratelimit-remaining`, `docker-ratelimit-source`.
        public var headerValues: (limit: String, remaining: String, source: String) {
            ("\(limit);w=\(window)", "\(remaining);w=\(window)", source)
        }
    }

    /// Who is counted.
    private enum Caller: Hashable {
        case account(String)
        case address(String)
    }

    private struct State {
        var windows: [Caller: (start: Double, count: Int)] = [:]
        /// Accounts' limits as last read, and when.
        var limits: [String: (limit: Int?, readAt: Double)] = [:]
    }

    public let settings: Settings
    private let clock: any WallClock
    private let state = Mutex(State())
    /// Seconds an account's limit is trusted before it is read again (an administrator's change takes this long).
    static let limitLifetime: Double = 2

    public init(settings: Settings, clock: any WallClock) {
        self.settings = settings
        self.clock = clock
    }

    /// The limit that applies to `account`, nil when it may pull without one.
    public func limit(for account: Account) -> Int? {
        account.pullLimit ?? settings.authenticated
    }

    /// Counts one pull (`counts`: a manifest GET) by the account `name` (its limit read with
    /// `account` when not known recently) and returns the allowance left; nil when no limit applies.
    /// Throws `TOOMANYREQUESTS` (with the headers) when the window's pulls are used up.
    public func admit(account name: String, counts: Bool, account load: () async throws -> Account?) async throws -> Allowance? {
        let now = clock.now.timeIntervalSince1970
        let known = state.withLock { state -> Int?? in
            guard let entry = state.limits[name], now - entry.readAt < Self.limitLifetime else { return .none }
            return .some(entry.limit)
        }
        let limit: Int?
        if let known {
            limit = known
        } else {
            limit = try await load().map(self.limit(for:)) ?? settings.authenticated
            state.withLock { $0.limits[name] = (limit, now) }
        }
        guard let limit else { return nil }
        return try count(.account(name), source: name, limit: limit, counts: counts, now: now)
    }

    /// Counts one pull from an anonymous client at `address`; nil when anonymous pulls are unlimited.
    public func admit(address: String?, counts: Bool) throws -> Allowance? {
        guard let limit = settings.anonymous else { return nil }
        let source = address ?? "unknown"
        return try count(.address(source), source: source, limit: limit, counts: counts, now: clock.now.timeIntervalSince1970)
    }

    private func count(_ caller: Caller, source: String, limit: Int, counts: Bool, now: Double) throws -> Allowance {
        let window = settings.window
        let (used, start) = state.withLock { state -> (Int, Double) in
            if state.windows.count > 100_000 { state.windows = state.windows.filter { now - $0.value.start < window } }
            if state.limits.count > 100_000 { state.limits = [:] }
            var entry = state.windows[caller].flatMap { now - $0.start < window ? $0 : nil } ?? (start: now, count: 0)
            let refused = counts && entry.count >= limit
            if counts && !refused { entry.count += 1 }
            state.windows[caller] = entry
            return (refused ? limit + 1 : entry.count, entry.start)
        }
        var allowance = Allowance(limit: limit, remaining: max(0, limit - used), window: Int(window), source: source,
                                  resetsIn: max(1, Int((start + window - now).rounded(.up))))
        guard used > limit else { return allowance }
        allowance.remaining = 0
        let values = allowance.headerValues
        throw RegistryError(.tooManyRequests,
                            "You have reached your pull rate limit of \(limit) pulls per \(Int(window)) seconds"
                            + (caller == .address(source) ? "; log in (docker login) for the limit of accounts, or wait." : "; wait for the window to start over."),
                            headers: ["ratelimit-limit": values.limit, "ratelimit-remaining": values.remaining,
                                      "docker-ratelimit-source": values.source, "Retry-After": String(allowance.resetsIn)])
    }
}
