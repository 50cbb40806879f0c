import Foundation
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

@Suite("Immutable tags, retention, quotas")
struct StoragePolicyTests {
    let name = RepositoryName("alice/app")!

    @Test("tag patterns: * and ? over the whole tag; bad patterns refused")
    func patterns() {
        #expect(TagPattern("v*")!.matches("v1.2.3") && TagPattern("v*")!.matches("v") && !TagPattern("v*")!.matches("latest"))
        #expect(TagPattern("*")!.matches("anything"))
        #expect(TagPattern("release-?.?")!.matches("release-1.2") && !TagPattern("release-?.?")!.matches("release-10.2"))
        #expect(TagPattern("*-rc*")!.matches("1.0-rc1") && !TagPattern("*-rc*")!.matches("1.0"))
        #expect(TagPattern("a*b*c")!.matches("aXbYbZc") && !TagPattern("a*b*c")!.matches("aXbYbZ"))
        #expect(TagPattern("") == nil && TagPattern("v/1") == nil && TagPattern("v[1]") == nil)
    }

    @Test("an immutable tag is pushed once, pushed again only with the same manifest, and never deleted")
    func immutableTags() async throws {
        try await TestHub.run { t in
            let first = try await t.push("alice/app", tag: "v1", layer: "one", by: "alice")
            #expect(try await t.hub.storagePolicies.setImmutableTags(["v*", "v*"], of: name, by: TestHub.alice) == ["v*"])
            await #expect(throws: HubError.self) { _ = try await t.hub.storagePolicies.setImmutableTags(["v/1"], of: name, by: TestHub.alice) }
            await #expect(throws: HubError.self) { _ = try await t.hub.storagePolicies.setImmutableTags(["*"], of: name, by: TestHub.bert) }
            #expect(try await t.push("alice/app", tag: "v1", layer: "one", by: "alice") == first, "same manifest again: fine")
            do {
                try await t.push("alice/app", tag: "v1", layer: "two", by: "alice")
                Issue.record("overwriting an immutable tag was accepted")
            } catch let error as RegistryError {
                #expect(error.code == .denied && error.message.contains("\"v*\""))
            }
            #expect(try await t.hub.stores.metadata.taggedDigest(Tag("v1")!, in: name) == first)
            for reference in [Reference.tag(Tag("v1")!), .digest(first)] {
                await #expect(throws: RegistryError.self) { try await t.hub.registry.deleteManifest(reference, in: name, by: "alice") }
            }
            await #expect(throws: HubError.self) { try await t.hub.tags.delete("v1", in: name, by: TestHub.alice) }
            try await t.push("alice/app", tag: "latest", layer: "two", by: "alice")
            try await t.push("alice/app", tag: "latest", layer: "three", by: "alice")
            try await t.hub.registry.deleteManifest(.tag(Tag("latest")!), in: name, by: "alice")
            #expect(try await t.hub.storagePolicies.setImmutableTags([], of: name, by: TestHub.alice).isEmpty)
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: name, by: "alice")
        }
    }

    @Test("retention: kept when any rule keeps it; immutable tags stay; the dry run lists what the run deletes")
    func retention() async throws {
        try await TestHub.run { t in
            for (index, tag) in ["old-1", "v1.0", "old-2", "keep-me", "new-1", "new-2"].enumerated() {
                try await t.push("alice/app", tag: tag, layer: "layer-\(index)", by: "alice")
                t.clock.advance(by: 86400)
            }
            #expect(try await t.hub.retention.run(name, dryRun: true, by: TestHub.alice).isEmpty, "no policy: nothing goes")
            let policy = RetentionPolicy(keepLast: 2, keepPatterns: ["keep-*"], maxAgeDays: nil)
            try await t.hub.retention.setPolicy(policy, of: name, by: TestHub.alice)
            #expect(try await t.hub.retention.policy(of: name, by: TestHub.bert) == policy)
            _ = try await t.hub.storagePolicies.setImmutableTags(["v*"], of: name, by: TestHub.alice)
            let dry = try await t.hub.retention.run(name, dryRun: true, by: TestHub.alice)
            #expect(dry == ["old-1", "old-2"])
            #expect(try await t.hub.registry.tagList(in: name).names.count == 6)
            await #expect(throws: HubError.self) { _ = try await t.hub.retention.run(name, dryRun: false, by: TestHub.bert) }
            #expect(try await t.hub.retention.run(name, dryRun: false, by: TestHub.alice) == dry)
            #expect(try await t.hub.registry.tagList(in: name).names == ["keep-me", "new-1", "new-2", "v1.0"])
            #expect(try await t.events().suffix(2).map(\.tag) == ["old-1", "old-2"])
            // Age: tags pushed within the last 2 days stay (new-2 a day ago, new-1 two days ago).
            try await t.hub.retention.setPolicy(RetentionPolicy(maxAgeDays: 2), of: name, by: TestHub.alice)
            #expect(try await t.hub.retention.run(name, dryRun: false, by: TestHub.alice) == ["keep-me"])
            await #expect(throws: HubError.self) {
                try await t.hub.retention.setPolicy(RetentionPolicy(keepPatterns: ["bad/pattern"]), of: name, by: TestHub.alice)
            }
            // The job applies every policy.
            try await t.push("alice/app", tag: "fresh", layer: "fresh", by: "alice")
            try await t.hub.retention.setPolicy(RetentionPolicy(keepLast: 1), of: name, by: TestHub.alice)
            let job = RetentionJob(retention: t.hub.retention, interval: 60, logger: .init(label: "test"))
            try await job.schedule()
            t.clock.advance(by: 61)
            let claimed = try #require(try await t.hub.stores.jobs.claim(kinds: [RetentionJob.kind], owner: "test", now: t.clock.now, lease: 60))
            #expect(try await job.run(claimed) == t.clock.now.addingTimeInterval(60))
            #expect(try await t.hub.registry.tagList(in: name).names == ["fresh", "v1.0"])
        }
    }

    @Test("a namespace's retention policy applies to its repositories without their own; owners set it")
    func namespaceRetention() async throws {
        try await TestHub.run { t in
            for repository in ["alice/one", "alice/two"] {
                for tag in ["a", "b", "c"] {
                    try await t.push(repository, tag: tag, layer: "\(repository)-\(tag)", by: "alice")
                    t.clock.advance(by: 1)
                }
            }
            try await t.push("bert/app", tag: "a", by: "bert")
            await #expect(throws: HubError.self) {
                try await t.hub.retention.setNamespacePolicy(RetentionPolicy(keepLast: 1), of: "alice", by: TestHub.bert)
            }
            try await t.hub.retention.setNamespacePolicy(RetentionPolicy(keepLast: 1), of: "alice", by: TestHub.alice)
            #expect(try await t.hub.retention.namespacePolicy(of: "alice", by: TestHub.alice) == RetentionPolicy(keepLast: 1))
            try await t.hub.retention.setPolicy(RetentionPolicy(keepLast: 2), of: RepositoryName("alice/two")!, by: TestHub.alice)
            let dry = try await t.hub.retention.runNamespace("alice", dryRun: true, by: TestHub.alice)
            #expect(dry.map(\.repository.value) == ["alice/one", "alice/two"] && dry.map(\.tags) == [["a", "b"], ["a"]])
            #expect(try await t.hub.stores.policies.repositoriesWithRetention().map(\.value) == ["alice/one", "alice/two"])
            _ = try await t.hub.retention.runNamespace("alice", dryRun: false, by: TestHub.alice)
            #expect(try await t.hub.registry.tagList(in: RepositoryName("alice/one")!).names == ["c"])
            #expect(try await t.hub.registry.tagList(in: RepositoryName("alice/two")!).names == ["b", "c"])
            #expect(try await t.hub.registry.tagList(in: RepositoryName("bert/app")!).names == ["a"])
        }
    }

    @Test("quota: each blob counted once per namespace; a push beyond it is refused with the usage; admins set it")
    func quota() async throws {
        try await TestHub.run { t in
            try await t.push("alice/app", tag: "v1", layer: "0123456789", by: "alice")
            let used = try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.alice)
            #expect(used.quota == nil && used.bytes > 10)
            await #expect(throws: HubError.self) { _ = try await t.hub.storagePolicies.setQuota(1, of: "alice", by: TestHub.alice) }
            await #expect(throws: HubError.self) { _ = try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.bert) }
            await #expect(throws: HubError.self) { _ = try await t.hub.storagePolicies.setQuota(-1, of: "alice", by: TestHub.root) }
            let limited = try await t.hub.storagePolicies.setQuota(used.bytes + 5, of: "alice", by: TestHub.root)
            #expect(limited == NamespaceUsage(bytes: used.bytes, quota: used.bytes + 5))
            // The same blobs in another repository of the namespace cost nothing more.
            try await t.push("alice/copy", tag: "v1", layer: "0123456789", by: "alice")
            #expect(try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.alice).bytes == used.bytes)
            do {
                try await t.push("alice/app", tag: "v2", layer: "a layer of more than five bytes", by: "alice")
                Issue.record("a push beyond the quota was accepted")
            } catch let error as RegistryError {
                #expect(error.code == .denied && error.message.contains("quota exceeded") && error.message.contains("\(used.bytes)"))
            }
            #expect(try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.alice).bytes == used.bytes)
            try await t.push("alice/app", tag: "v3", layer: "tiny", by: "alice")  // 4 bytes fit
            // Another namespace is not limited.
            try await t.push("bert/app", tag: "v1", layer: "a layer of more than five bytes", by: "bert")
            _ = try await t.hub.storagePolicies.setQuota(nil, of: "alice", by: TestHub.root)
            try await t.push("alice/app", tag: "v2", layer: "a layer of more than five bytes", by: "alice")
        }
    }

    @Test("quota under concurrent pushes: usage never exceeds it")
    func quotaRace() async throws {
        try await TestHub.run { t in
            try await t.push("alice/app", tag: "base", layer: "base", by: "alice")
            let base = try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.alice).bytes
            _ = try await t.hub.storagePolicies.setQuota(base + 100, of: "alice", by: TestHub.root)
            // Twenty pushes of distinct 10-byte blobs at once: exactly ten fit.
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let blob = Array(String(format: "blob-%05d", index).utf8)
                        do {
                            _ = try await t.hub.registry.uploadMonolithic(into: RepositoryName("alice/app")!, digest: Digest.of(blob), by: "alice",
                                                                          body: TestHub.body(blob))
                            return true
                        } catch let error as RegistryError where error.code == .denied {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 10)
            #expect(try await t.hub.storagePolicies.usage(of: "alice", by: TestHub.alice).bytes == base + 100)
        }
    }
}
