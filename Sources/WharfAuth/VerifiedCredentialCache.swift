import Crypto
import Foundation
import WharfCore

/// Remembers recently verified passwords for a short time, so that clients sending HTTP Basic on
/// every request (curl, scripts, some registry clients) do not pay for bcrypt each time.
///
/// Keys are SHA-256 digests of the username and secret, never the secret itself. Entries expire
/// after `lifetime`; a changed password or a disabled account is therefore honoured within it.
/// Concurrent requests with the same unverified credentials share one verification, and an entry
/// in the second half of its life is renewed in the background while it keeps being served, so
/// bcrypt never runs once per waiting request.
public final class VerifiedCredentialCache: Sendable {
    private struct Entry: Sendable {
        let username: String
        let principal: Principal
        let expires: Date
        /// A background verification is renewing this entry.
        var renewing = false
    }

    public let lifetime: TimeInterval
    private let clock: any WallClock
    private let entries: BoundedCache<SHA256Digest, Entry>
    /// Verifications in progress, joined by every request with the same credentials (nothing is stored here).
    private let flights: BoundedCache<SHA256Digest, Principal?>

    public init(lifetime: TimeInterval = 30, capacity: Int = 10_000, clock: any WallClock = SystemClock()) {
        self.lifetime = lifetime
        self.clock = clock
        entries = BoundedCache(budget: capacity, lifetime: lifetime, clock: clock)
        flights = BoundedCache(budget: 1, clock: clock)
    }

    private static func key(_ username: String, _ secret: String) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: Data(username.utf8))
        hasher.update(data: [0])
        hasher.update(data: Data(secret.utf8))
        return hasher.finalize()
    }

    /// The principal for these credentials: from the cache while fresh, else from `verify`
    /// (run once for all concurrent callers with the same credentials, and remembered when it
    /// returns a principal). Returns nil when `verify` rejects the credentials.
    public func principal(username: String, secret: String,
                          verify: @escaping @Sendable () async throws -> Principal?) async throws -> Principal? {
        let key = Self.key(username, secret)
        if var entry = entries.value(key) {
            if !entry.renewing && entry.expires.timeIntervalSince(clock.now) < lifetime / 2 {
                entry.renewing = true
                entries.store(entry, for: key, expires: entry.expires)
                Task { try? await self.settle(key, username: username, verify: verify) }
            }
            return entry.principal
        }
        return try await settle(key, username: username, verify: verify)
    }

    /// Runs `verify` as the one flight for `key`, then remembers or forgets the outcome.
    private func settle(_ key: SHA256Digest, username: String,
                        verify: @escaping @Sendable () async throws -> Principal?) async throws -> Principal? {
        let result: Principal?
        do {
            result = try await flights.value(for: key, keep: { _ in false }, load: verify)
        } catch {
            if var entry = entries.value(key) {
                entry.renewing = false
                entries.store(entry, for: key, expires: entry.expires)
            }
            throw error
        }
        if let result {
            remember(result, key: key, username: username)
        } else {
            entries.remove(key)
        }
        return result
    }

    /// The principal remembered for these credentials, if any and not expired.
    public func cachedPrincipal(username: String, secret: String) -> Principal? {
        entries.value(Self.key(username, secret))?.principal
    }

    /// Remembers that these credentials verified as `principal`.
    public func remember(_ principal: Principal, username: String, secret: String) {
        remember(principal, key: Self.key(username, secret), username: username)
    }

    private func remember(_ principal: Principal, key: SHA256Digest, username: String) {
        let expires = clock.now.addingTimeInterval(lifetime)
        entries.store(Entry(username: username, principal: principal, expires: expires), for: key, expires: expires)
    }

    /// Drops every entry of `username`.
    public func forget(username: String) {
        entries.removeAll { $1.username == username }
    }
}
