import Crypto
import Foundation
import Synchronization

/// Remembers recently verified passwords for a short time, so that clients sending HTTP Basic on
/// every request (curl, scripts, some registry clients) do not pay for bcrypt each time.
///
/// Keys are SHA-256 digests of the username and secret, never the secret itself. Entries expire
/// after `lifetime`; a changed password or a disabled account is therefore honoured within it.
public final class VerifiedCredentialCache: Sendable {
    private struct Entry {
        let username: String
        let principal: Principal
        let expires: Date
        /// One caller has been sent to re-verify this entry before it expires.
        var refreshing = false
    }

    public let lifetime: TimeInterval
    private let capacity: Int
    private let entries = Mutex<[SHA256Digest: Entry]>([:])

    public init(lifetime: TimeInterval = 30, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    private static func key(_ username: String, _ secret: String) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: Data(username.utf8))
        hasher.update(data: [0])
        hasher.update(data: Data(secret.utf8))
        return hasher.finalize()
    }

    /// The principal verified for these credentials, if still fresh.
    public func principal(username: String, secret: String, now: Date = Date()) -> Principal? {
        let key = Self.key(username, secret)
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > now else {
                entries[key] = nil
                return nil
            }
            // In the second half of its life, send exactly one caller to verify again, so the entry
            // is renewed before it expires instead of every concurrent request running bcrypt at once.
            if !entry.refreshing, entry.expires.timeIntervalSince(now) < lifetime / 2 {
                entries[key]?.refreshing = true
                return nil
            }
            return entry.principal
        }
    }

    /// Remembers that these credentials verified as `principal`.
    public func remember(_ principal: Principal, username: String, secret: String, now: Date = Date()) {
        let key = Self.key(username, secret)
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(username: username, principal: principal, expires: now.addingTimeInterval(lifetime))
        }
    }

    /// Drops every entry of `username`.
    public func forget(username: String) {
        entries.withLock { entries in entries = entries.filter { $0.value.username != username } }
    }
}
