import Foundation
import Testing
import WharfCore
import WharfTestSupport
@testable import WharfMetadata

/// Search over the repository index: counts from the index alone, exact names and official
/// images first, then stars and pulls, the same order on every page, with few or many matches
/// (the plan changes past 2,000 matches), and only what the caller may see.
@Suite("Catalog search")
struct CatalogSearchTests {
    /// Fills the catalog: `count` repositories in `ns0`…`ns9` named `svc-<i>` described as "a server",
    /// plus `library/server`, `ns3/server` and a private `ns1/server-secret`; pulls fall with the index.
    static func fill(_ stores: Stores, count: Int) async throws {
        try await stores.transaction { tx in
            for index in 0..<count {
                _ = try await tx.metadata.createRepository(RepositoryName("ns\(index % 10)/svc-\(index)")!, isPrivate: false, description: "a server")
            }
            _ = try await tx.metadata.createRepository(RepositoryName("library/server")!, isPrivate: false, description: "official")
            _ = try await tx.metadata.createRepository(RepositoryName("ns3/server")!, isPrivate: false, description: "")
            _ = try await tx.metadata.createRepository(RepositoryName("ns1/server-secret")!, isPrivate: true, description: "hidden")
            _ = try await tx.metadata.createRepository(RepositoryName("ns2/other")!, isPrivate: false, description: "nothing to see")
        }
        try await stores.catalog.recordPulls((0..<count).map { index in
            PullTally(repository: RepositoryName("ns\(index % 10)/svc-\(index)")!, reference: .tag(Tag("latest")!),
                      count: Int64(count - index), lastPulledAt: Date())
        })
    }

    /// Every page of a search, in order.
    static func all(_ stores: Stores, _ privates: PrivateVisibility, pageSize: Int) async throws -> (count: Int, names: [String]) {
        var names: [String] = []
        var count = 0
        for page in 0... {
            let result = try await stores.catalog.searchRepositories(words: ["server"], exactName: "server", privates: privates,
                                                                     offset: page * pageSize, limit: pageSize)
            count = result.count
            names += result.items.map(\.name.value)
            if result.items.count < pageSize { break }
        }
        return (count, names)
    }

    @Test("few and many matches: exact names, then official, then by pulls; pages add up to the count", arguments: [30, 2_100])
    func ranking(repositories: Int) async throws {
        try await withStores { stores in
            try await Self.fill(stores, count: repositories)
            let (count, names) = try await Self.all(stores, .none, pageSize: 25)
            #expect(count == repositories + 2)
            #expect(names.count == count)
            #expect(Set(names).count == names.count, "no repository twice across pages")
            #expect(Array(names.prefix(4)) == ["library/server", "ns3/server", "ns0/svc-0", "ns1/svc-1"])
            #expect(!names.contains("ns1/server-secret") && !names.contains("ns2/other"))
            let (withPrivate, visible) = try await Self.all(stores, .only([RepositoryName("ns1/server-secret")!]), pageSize: 100)
            #expect(withPrivate == count + 1 && visible.contains("ns1/server-secret"))
            let (everything, _) = try await Self.all(stores, .all, pageSize: 1000)
            #expect(everything == count + 1)
        }
    }

    @Test("visibility changes move a repository in and out of the public count")
    func visibilityMarker() async throws {
        try await withStores { stores in
            try await Self.fill(stores, count: 3)
            #expect(try await Self.all(stores, .none, pageSize: 10).count == 5)
            _ = try await stores.metadata.updateRepository(RepositoryName("ns0/svc-0")!, isPrivate: true, description: nil)
            #expect(try await Self.all(stores, .none, pageSize: 10).count == 4)
            _ = try await stores.metadata.updateRepository(RepositoryName("ns1/server-secret")!, isPrivate: false, description: nil)
            #expect(try await Self.all(stores, .none, pageSize: 10).names.contains("ns1/server-secret"))
            #expect(RepositorySearch.words("wharfvisibilitypublic server") == ["server"], "the markers cannot be searched for")
        }
    }
}
