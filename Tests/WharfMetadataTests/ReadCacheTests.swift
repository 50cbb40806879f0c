import Testing
import WharfCore
@testable import WharfMetadata

@Suite("Read cache")
struct ReadCacheTests {
    func tags(_ names: [String]) -> ReadCache.Value {
        .tags(TagList(repository: RepositoryName("acme/app")!, names: names))
    }

    @Test("an entry is served until the next write bumps the generation")
    func generation() async {
        let cache = ReadCache()
        var reads = 0
        for _ in 0..<3 { _ = await cache.cached("k") { reads += 1; return tags(["a"]) } }
        #expect(reads == 1)
        cache.bump()
        _ = await cache.cached("k") { reads += 1; return tags(["b"]) }
        #expect(reads == 2)
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
