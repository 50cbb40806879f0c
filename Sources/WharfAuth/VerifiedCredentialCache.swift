import Crypto
import Foundation
import Synchronization

/// Remembers recently verified passwords for a short time, so that clients sending HTTP Basic on
/// every request (curl, scripts, some registry clients) do not pay for bcrypt each time.
///
/// Keys are SHA-256 digests of the username and secret, never the secret itself. Entries expire
/// after `lifetime`; a changed password or a disabled account is therefore honoured within it.
/// Concurrent requests with the same unverified credentials share one verification, and an entry
/// in the second half of its life is renewed in the background while it keeps being served, so
/// bcrypt never runs once per waiting request.
public final class VerifiedCredentialCache: Sendable {
    private struct Entry {
        let username: String
        let principal: Principal
        let expires: Date
        /// A background verification is renewing this entry.
        var renewing = false
    }

    private struct State {
        var entries: [SHA256Digest: Entry] = [:]
        /// Verifications in progress, joined by every request with the same credentials.
        var flights: [SHA256Digest: Task<Principal?, any Error>] = [:]
    }

    private enum Lookup {
        case fresh(Principal)
        case renew(Principal)
        case join(Task<Principal?, any Error>)
        case verify
    }

    public let lifetime: TimeInterval
    private let capacity: Int
    private let state = Mutex(State())

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

    /// The principal for these credentials: from the cache while fresh, else from `verify`
    /// (run once for all concurrent callers with the same credentials, and remembered when it
    /// returns a principal). Returns nil when `verify` rejects the credentials.
    public func principal(username: String, secret: String, now: Date = Date(),
                          verify: @escaping @Sendable () async throws -> Principal?) async throws -> Principal? {
        let key = Self.key(username, secret)
        let lookup: Lookup = state.withLock { state in
            if let entry = state.entries[key] {
                if entry.expires <= now {
                    state.entries[key] = nil
                } else if entry.renewing || entry.expires.timeIntervalSince(now) >= lifetime / 2 {
                    return .fresh(entry.principal)
                } else {
                    state.entries[key]?.renewing = true
                    return .renew(entry.principal)
                }
            }
            if let flight = state.flights[key] { return .join(flight) }
            return .verify
        }
        switch lookup {
        case .fresh(let principal):
            return principal
        case .renew(let principal):
            Task { try? await self.settle(key, username: username, now: now, verify: verify) }
            return principal
        case .join(let flight):
            return try await flight.value
        case .verify:
            return try await settle(key, username: username, now: now, verify: verify)
        }
    }

    /// Runs `verify` as the one flight for `key`, then remembers or forgets the outcome.
    private func settle(_ key: SHA256Digest, username: String, now: Date,
                        verify: @escaping @Sendable () async throws -> Principal?) async throws -> Principal? {
        let flight = state.withLock { state in
            if let existing = state.flights[key] { return existing }
            let task = Task { try await verify() }
            state.flights[key] = task
            return task
        }
        let result: Principal?
        do {
            result = try await flight.value
        } catch {
            state.withLock { state in
                state.flights[key] = nil
                state.entries[key]?.renewing = false
            }
            throw error
        }
        state.withLock { state in
            state.flights[key] = nil
            if let result {
                store(result, key: key, username: username, now: now, in: &state)
            } else {
                state.entries[key] = nil
            }
        }
        return result
    }

    /// The principal remembered for these credentials, if any and not expired.
    public func cachedPrincipal(username: String, secret: String, now: Date = Date()) -> Principal? {
        let key = Self.key(username, secret)
        return state.withLock { state in
            guard let entry = state.entries[key], entry.expires > now else { return nil }
            return entry.principal
        }
    }

    /// Remembers that these credentials verified as `principal`.
    public func remember(_ principal: Principal, username: String, secret: String, now: Date = Date()) {
        let key = Self.key(username, secret)
        state.withLock { state in store(principal, key: key, username: username, now: now, in: &state) }
    }

    private func store(_ principal: Principal, key: SHA256Digest, username: String, now: Date, in state: inout State) {
        if state.entries.count >= capacity {
            state.entries = state.entries.filter { $0.value.expires > now }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
        }
        state.entries[key] = Entry(username: username, principal: principal, expires: now.addingTimeInterval(lifetime))
    }

    /// Drops every entry of `username`.
    public func forget(username: String) {
        state.withLock { state in state.entries = state.entries.filter { $0.value.username != username } }
    }
}
