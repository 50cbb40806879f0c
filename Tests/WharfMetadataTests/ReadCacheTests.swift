import Synchronization
import Testing
import WharfCore
@testable import WharfMetadata

@Suite("Read cache")
struct ReadCacheTests {
    func tags(_ names: [String]) -> ReadCache.Value {
        .tags(TagList(repository: RepositoryName("acme/app")!, names: names))
    }

    /// Counts the reads a test's closures make.
    final class Reads: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add() { count.add(1, ordering: .relaxed) }
    }

    @Test("an entry is served until the next write bumps the generation")
    func generation() async throws {
        let cache = ReadCache()
        let reads = Reads()
        for _ in 0..<3 { _ = try await cache.cached("k") { reads.add(); return tags(["a"]) } }
        #expect(reads.value == 1)
        cache.bump()
        _ = try await cache.cached("k") { reads.add(); return tags(["b"]) }
        #expect(reads.value == 2)
    }

    @Test("concurrent misses of one key share one read; a write meanwhile starts a new one")
    func singleFlight() async throws {
        let cache = ReadCache()
        let reads = Reads()
        let slowRead: @Sendable () async throws -> ReadCache.Value = {
            reads.add()
            try await Task.sleep(for: .milliseconds(100))
            return .flag(true)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { _ = try await cache.cached("k", read: slowRead) } }
            try await group.waitForAll()
        }
        #expect(reads.value == 1)

        cache.bump()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { _ = try await cache.cached("k", read: slowRead) } }
            try await Task.sleep(for: .milliseconds(30))
            cache.bump()  // a write commits while the first read is in flight: later readers must not share it
            for _ in 0..<10 { group.addTask { _ = try await cache.cached("k", read: slowRead) } }
            try await group.waitForAll()
        }
        #expect(reads.value == 3)
    }

    @Test("a value read before a racing write is never served after it")
    func race() {
        let cache = ReadCache()
        let before = cache.generation
        cache.bump()  // a write commits while the read is in flight
        cache.store(tags(["old"]), for: "k", readAt: before)
        #expect(cache.value("k") == nil)
    }

    @Test("entries expire after their lifetime and the budget bounds memory")
    func lifetimeAndBudget() async throws {
        let clock = ManualClock()
        let cache = ReadCache(lifetime: .milliseconds(50), budget: 16 * 1024, clock: clock)
        cache.store(tags(["a"]), for: "k", readAt: cache.generation)
        clock.advance(by: 0.04)
        #expect(cache.value("k") != nil)
        clock.advance(by: 0.02)
        #expect(cache.value("k") == nil)
        cache.store(tags([String(repeating: "x", count: 4000)]), for: "big", readAt: cache.generation)
        #expect(cache.value("big") == nil)
    }

    @Test("the store sees its own writes immediately")
    func storeConsistency() async throws {
        try await withStore { store in
            let repo = RepositoryName("acme/app")!
            let manifest = StoredManifest(digest: Digest.of(Array("m".utf8)), mediaType: MediaType.ociManifest, content: Array("m".utf8))
            try await store.putManifest(manifest, tag: Tag("v1"), in: repo)
            #expect(try await store.manifest(taggedWith: Tag("v1")!, in: repo)?.digest == manifest.digest)
            #expect(try await store.tags(in: repo, after: nil, limit: 10) == ["v1"])
            #expect(try await store.deleteTag(Tag("v1")!, in: repo))
            #expect(try await store.manifest(taggedWith: Tag("v1")!, in: repo) == nil)
            #expect(try await store.tags(in: repo, after: nil, limit: 10).isEmpty)
        }
    }
}

extension ReadCache.Value: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.tags(let a), .tags(let b)): a.repository == b.repository && a.names == b.names
        case (.facts(let a), .facts(let b)): a == b
        case (.manifest(let a), .manifest(let b)): a == b
        default: false
        }
    }
}
