import Foundation
import Synchronization

/// The one in-memory cache: bounded by a cost budget (least recently used entries leave first),
/// entries expire after a lifetime, and concurrent misses for one key share a single load.
///
/// Used for verified tokens and passwords, hot metadata reads, parsed headers, login failures
/// and upload hash states; a feature that needs to remember something reuses it.
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var cost: Int
        var expires: Date?
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var cost = 0
        var tick: UInt64 = 0
        var flights: [Key: Task<Value, any Error>] = [:]
    }

    /// The most total cost kept.
    public let budget: Int
    /// How long an entry lives unless stored with its own expiry; nil: until evicted.
    public let lifetime: TimeInterval?
    private let costOf: @Sendable (Value) -> Int
    private let clock: any WallClock
    private let state = Mutex(State())

    /// - Parameters:
    ///   - budget: the most total cost kept (with the default cost of 1, the most entries).
    ///   - lifetime: how long an entry lives; nil for no limit.
    ///   - cost: an entry's cost, e.g. its approximate size in bytes.
    public init(budget: Int, lifetime: TimeInterval? = nil, clock: any WallClock = SystemClock(),
                cost: @escaping @Sendable (Value) -> Int = { _ in 1 }) {
        self.budget = budget
        self.lifetime = lifetime
        self.clock = clock
        self.costOf = cost
    }

    /// The live value for `key`, marking it recently used.
    public func value(_ key: Key) -> Value? {
        let now = clock.now
        return state.withLock { state in
            guard var entry = state.entries[key] else { return nil }
            if let expires = entry.expires, expires <= now {
                state.cost -= entry.cost
                state.entries[key] = nil
                return nil
            }
            state.tick += 1
            entry.lastUsed = state.tick
            state.entries[key] = entry
            return entry.value
        }
    }

    /// Stores `value` for `key` until `expires` (default: now + `lifetime`). A value costing more
    /// than a sixteenth of the budget is not kept.
    public func store(_ value: Value, for key: Key, expires: Date? = nil) {
        let cost = costOf(value)
        guard cost <= budget / 16 || (budget < 16 && cost <= budget) else { return }
        let expiry = expires ?? lifetime.map { clock.now.addingTimeInterval($0) }
        state.withLock { state in
            if let old = state.entries[key] { state.cost -= old.cost }
            state.tick += 1
            state.entries[key] = Entry(value: value, cost: cost, expires: expiry, lastUsed: state.tick)
            state.cost += cost
            if state.cost > budget { Self.evict(&state, budget: budget, now: clock.now) }
        }
    }

    /// Removes `key`; returns what it held.
    @discardableResult
    public func remove(_ key: Key) -> Value? {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: key) else { return nil }
            state.cost -= entry.cost
            return entry.value
        }
    }

    /// Removes every entry `predicate` selects.
    public func removeAll(where predicate: (Key, Value) -> Bool) {
        state.withLock { state in
            for (key, entry) in state.entries where predicate(key, entry.value) {
                state.entries[key] = nil
                state.cost -= entry.cost
            }
        }
    }

    /// Entries kept now (expired ones not yet noticed included).
    public var count: Int { state.withLock { $0.entries.count } }

    /// The cached value, or the one `load` produces, stored when `keep` says so. Concurrent
    /// callers missing the same key wait for one load instead of each running it.
    public func value(for key: Key, keep: @escaping @Sendable (Value) -> Bool = { _ in true },
                      load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let hit = value(key) { return hit }
        let flight = state.withLock { state in
            if let running = state.flights[key] { return running }
            let task = Task { try await load() }
            state.flights[key] = task
            return task
        }
        do {
            let loaded = try await flight.value
            state.withLock { state in
                if state.flights[key] == flight { state.flights[key] = nil }
            }
            if keep(loaded) { store(loaded, for: key) }
            return loaded
        } catch {
            state.withLock { state in
                if state.flights[key] == flight { state.flights[key] = nil }
            }
            throw error
        }
    }

    /// Drops expired entries, then the least recently used until a quarter of the budget is free.
    private static func evict(_ state: inout State, budget: Int, now: Date) {
        for (key, entry) in state.entries where (entry.expires ?? .distantFuture) <= now {
            state.entries[key] = nil
            state.cost -= entry.cost
        }
        guard state.cost > budget else { return }
        let target = budget - budget / 4
        for (key, entry) in state.entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            guard state.cost > target else { break }
            state.entries[key] = nil
            state.cost -= entry.cost
        }
    }
}
