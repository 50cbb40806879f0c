import Foundation
import Synchronization
import Testing
@testable import WharfCore

/// Counts calls from any task.
final class CallCounter: Sendable {
    private let calls = Mutex(0)
    func increment() { calls.withLock { $0 += 1 } }
    var value: Int { calls.withLock { $0 } }
}

@Suite("Bounded cache")
struct BoundedCacheTests {
    @Test("entries expire after their lifetime, or at the expiry they were stored with")
    func lifetime() {
        let clock = ManualClock()
        let cache = BoundedCache<String, Int>(budget: 10, lifetime: 5, clock: clock)
        cache.store(1, for: "a")
        cache.store(2, for: "b", expires: clock.now.addingTimeInterval(20))
        clock.advance(by: 4.9)
        #expect(cache.value("a") == 1)
        clock.advance(by: 0.2)
        #expect(cache.value("a") == nil)
        #expect(cache.value("b") == 2)
        clock.advance(by: 15)
        #expect(cache.value("b") == nil)
    }

    @Test("when full, the least recently used entries leave first, not everything")
    func leastRecentlyUsed() {
        let cache = BoundedCache<Int, Int>(budget: 8, clock: ManualClock())
        for key in 0..<8 { cache.store(key, for: key) }
        _ = cache.value(0)  // used recently: stays
        cache.store(8, for: 8)
        #expect(cache.count <= 8 && cache.count >= 6)
        #expect(cache.value(0) == 0 && cache.value(8) == 8)
        #expect(cache.value(1) == nil)
    }

    @Test("costs count against the budget, and an entry too large for it is not kept")
    func costs() {
        let cache = BoundedCache<String, [UInt8]>(budget: 1600, clock: ManualClock()) { $0.count }
        cache.store([UInt8](repeating: 0, count: 101), for: "big")
        #expect(cache.value("big") == nil)
        for index in 0..<40 { cache.store([UInt8](repeating: 0, count: 100), for: "k\(index)") }
        #expect(cache.count <= 16)
        #expect(cache.value("k39") != nil)
    }

    @Test("concurrent misses for one key share one load; a load kept out is not stored")
    func singleFlight() async throws {
        let cache = BoundedCache<String, Int>(budget: 10, clock: ManualClock())
        let loads = CallCounter()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await cache.value(for: "k") {
                        loads.increment()
                        try await Task.sleep(for: .milliseconds(100))
                        return 7
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(values == Array(repeating: 7, count: 20))
        #expect(loads.value == 1)
        #expect(cache.value("k") == 7)
        _ = try await cache.value(for: "skip", keep: { _ in false }) { 3 }
        #expect(cache.value("skip") == nil)
    }

    @Test("a failed load is not remembered: the next caller loads again")
    func failedLoad() async throws {
        struct Boom: Error {}
        let cache = BoundedCache<String, Int>(budget: 10, clock: ManualClock())
        await #expect(throws: Boom.self) { try await cache.value(for: "k") { throw Boom() } }
        #expect(try await cache.value(for: "k") { 5 } == 5)
    }

    @Test("entries can be removed one by one or by a predicate")
    func removal() {
        let cache = BoundedCache<String, Int>(budget: 10, clock: ManualClock())
        for (key, value) in [("a", 1), ("b", 2), ("c", 3)] { cache.store(value, for: key) }
        #expect(cache.remove("a") == 1)
        cache.removeAll { _, value in value > 2 }
        #expect(cache.value("a") == nil && cache.value("b") == 2 && cache.value("c") == nil)
    }
}
