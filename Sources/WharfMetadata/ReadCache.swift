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

    private struct Entry: Sendable {
        let value: Value
        let generation: UInt64
    }

    private let generationCounter = Atomic<UInt64>(0)
    private let entries: BoundedCache<String, Entry>
    /// Reads running now, by key, with the generation each started under.
    private let flights = Mutex<[String: (generation: UInt64, task: Task<Value, any Error>)]>([:])
    let lifetime: Duration
    let budget: Int

    /// - Parameters:
    ///   - lifetime: how long an entry may live at most (bounds staleness from other processes).
    ///   - budget: approximate bytes kept; the least recently used entries leave first.
    public init(lifetime: Duration = .seconds(2), budget: Int = 32 * 1024 * 1024, clock: any WallClock = SystemClock()) {
        self.lifetime = lifetime
        self.budget = budget
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        entries = BoundedCache(budget: budget, lifetime: seconds, clock: clock) { $0.value.cost }
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
        guard let entry = entries.value(key) else { return nil }
        guard entry.generation == generation else {
            entries.remove(key)
            return nil
        }
        return entry.value
    }

    func store(_ value: Value, for key: String, readAt generation: UInt64) {
        guard budget > 0 else { return }
        entries.store(Entry(value: value, generation: generation), for: key)
    }

    /// The cached value for `key`, or the one `read` produces (then cached). Concurrent misses of
    /// one key under one generation share a single read: when an entry expires under load, the
    /// database sees one query for it, not one per request in flight.
    func cached(_ key: String, read: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let hit = value(key) { return hit }
        let generation = self.generation
        guard budget > 0 else { return try await read() }
        let flight = flights.withLock { flights in
            if let running = flights[key], running.generation == generation { return running.task }
            let task = Task { try await read() }
            flights[key] = (generation, task)
            return task
        }
        defer {
            flights.withLock { flights in
                if flights[key]?.task == flight { flights[key] = nil }
            }
        }
        let fresh = try await flight.value
        store(fresh, for: key, readAt: generation)
        return fresh
    }
}
