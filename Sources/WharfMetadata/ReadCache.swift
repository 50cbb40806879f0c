import Foundation
import Synchronization
import WharfCore

/// Answers hot reads (access facts, manifests, tag lists) from memory while nothing has changed.
///
/// Every committed write transaction bumps `generation`; an entry is served only while the
/// generation it was read under is current, so a process never sees its own writes late. Writes
/// from another process (`wharf user …` on the same database) are seen within `lifetime`.
/// The value is read under the generation captured *before* the query, so a write racing with
/// the read can only make the entry stale, never wrongly fresh.
public final class ReadCache: Sendable {
    enum Value: Sendable {
        case facts(AccessFacts)
        case manifest(StoredManifest?)
        case tags(TagList)
        case account(Account?)
        case flag(Bool)

        var cost: Int {
            switch self {
            case .facts: 64
            case .manifest(let m): 64 + (m?.content.count ?? 0)
            case .tags(let list): list.cost
            case .account: 256
            case .flag: 32
            }
        }
    }

    private struct Entry {
        let value: Value
        let generation: UInt64
        let stored: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var cost = 0
    }

    private let generationCounter = Atomic<UInt64>(0)
    private let state = Mutex(State())
    let lifetime: Duration
    let budget: Int

    /// - Parameters:
    ///   - lifetime: how long an entry may live at most (bounds staleness from other processes).
    ///   - budget: approximate bytes kept; the cache empties when it would grow past it.
    public init(lifetime: Duration = .seconds(2), budget: Int = 32 * 1024 * 1024) {
        self.lifetime = lifetime
        self.budget = budget
    }

    /// A cache that keeps nothing: every read goes to the database.
    static let passThrough = ReadCache(budget: 0)

    /// The current generation; capture it before reading what will be stored.
    var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Invalidates everything: called after every committed write.
    public func bump() {
        generationCounter.add(1, ordering: .releasing)
    }

    func value(_ key: String) -> Value? {
        let current = generation
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            guard entry.generation == current, now - entry.stored < lifetime else {
                state.cost -= entry.value.cost
                state.entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func store(_ value: Value, for key: String, readAt generation: UInt64) {
        let cost = value.cost
        guard budget > 0, cost <= budget / 16 else { return }
        state.withLock { state in
            if state.cost + cost > budget {
                state.entries.removeAll(keepingCapacity: true)
                state.cost = 0
            }
            if let old = state.entries[key] { state.cost -= old.value.cost }
            state.entries[key] = Entry(value: value, generation: generation, stored: .now)
            state.cost += cost
        }
    }

    /// The cached value for `key`, or the one `read` produces (then cached).
    func cached(_ key: String, read: () async throws -> Value) async rethrows -> Value {
        if let hit = value(key) { return hit }
        let generation = self.generation
        let fresh = try await read()
        store(fresh, for: key, readAt: generation)
        return fresh
    }
}
