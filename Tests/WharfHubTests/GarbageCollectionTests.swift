import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
import WharfStorage
import WharfTestSupport
@testable import WharfHub

@Suite("Online garbage collection")
struct GarbageCollectionTests {
    static let now = GarbageCollector.Policy(gracePeriod: 0, untaggedManifestAge: 0)

    /// The layer blob of a `TestHub.push` with `layer`.
    static func layer(_ text: String) -> Digest { Digest.of(Array(text.utf8)) }

    func stored(_ digest: Digest, in t: TestHub) async throws -> Bool {
        try await t.hub.registry.blobs.size(of: digest) != nil
    }

    @Test("a deleted tag's own layer is reclaimed; blobs another tag uses stay and it still pulls")
    func deletedTag() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            let v1 = try await t.push("alice/app", tag: "v1", layer: "only-v1", by: "alice")
            let v2 = try await t.push("alice/app", tag: "v2", layer: "only-v2", by: "alice")
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: name, by: "alice")
            let report = try await t.hub.garbageCollector.run(Self.now, dryRun: false)
            #expect(report.manifests == 1 && report.deletedManifests.map(\.digest) == [v1])
            #expect(report.blobs == 1 && report.bytes == Int64("only-v1".utf8.count))
            #expect(try await !stored(Self.layer("only-v1"), in: t))
            #expect(try await stored(Self.layer("only-v2"), in: t))
            #expect(try await t.hub.registry.manifest(v1, in: name) == nil)
            let manifest = try await t.hub.registry.manifest(.tag(Tag("v2")!), in: name, accepting: AcceptedMediaTypes(headerValues: []))
            #expect(manifest.digest == v2)
            for digest in try Manifest.parse(manifest.content, contentType: manifest.mediaType).requiredBlobs {
                #expect(try await stored(digest, in: t), "blob \(digest) of v2 is stored")
            }
            #expect(try await t.events().last?.kind == .manifestDelete)
            // Nothing left to do.
            let again = try await t.hub.garbageCollector.run(Self.now, dryRun: false)
            #expect(again.blobs == 0 && again.manifests == 0)
        }
    }

    @Test("a deleted repository's blobs go only after the grace period, counted from when GC saw them unlinked")
    func gracePeriod() async throws {
        try await TestHub.run { t in
            try await t.push("alice/app", tag: "v1", layer: "doomed", by: "alice")
            try await t.push("bert/keep", tag: "v1", layer: "kept", by: "bert")
            try await t.hub.repositories.delete(RepositoryName("alice/app")!, by: TestHub.alice)
            let policy = GarbageCollector.Policy(gracePeriod: 3600, untaggedManifestAge: 86400)
            let first = try await t.hub.garbageCollector.run(policy, dryRun: false)
            #expect(first.blobs == 0)
            #expect(try await stored(Self.layer("doomed"), in: t))
            t.clock.advance(by: 3599)
            #expect(try await t.hub.garbageCollector.run(policy, dryRun: false).blobs == 0)
            t.clock.advance(by: 2)
            let later = try await t.hub.garbageCollector.run(policy, dryRun: false)
            // The layer only; the config is shared with bert/keep.
            #expect(later.blobs == 1 && later.deletedBlobs.map(\.digest) == [Self.layer("doomed")])
            #expect(try await !stored(Self.layer("doomed"), in: t))
            #expect(try await stored(Self.layer("kept"), in: t))
            #expect(try await t.hub.registry.storedBytes() == (try await t.hub.registry.blobs.storedBlobs()).reduce(0) { $0 + $1.size })
        }
    }

    @Test("untagged manifests: kept while an index or a referrer refers to them, deleted after the age otherwise")
    func untaggedPolicy() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            let child = try await t.push("alice/app", tag: "child", layer: "child-layer", by: "alice")
            let index = try await pushIndex(of: child, to: "alice/app", tag: "multi", in: t)
            let subject = try await t.push("alice/app", tag: "signed", layer: "signed-layer", by: "alice")
            let referrer = try await pushReferrer(to: subject, in: "alice/app", t: t)
            let loose = try await t.push("alice/app", tag: "loose", layer: "loose-layer", by: "alice")
            for tag in ["child", "signed", "loose"] {
                try await t.hub.registry.deleteManifest(.tag(Tag(tag)!), in: name, by: "alice")
            }
            let policy = GarbageCollector.Policy(gracePeriod: 0, untaggedManifestAge: 86400)
            #expect(try await t.hub.garbageCollector.run(policy, dryRun: false).manifests == 0)
            t.clock.advance(by: 86401)
            let report = try await t.hub.garbageCollector.run(policy, dryRun: false)
            #expect(report.deletedManifests.map(\.digest) == [loose])
            for kept in [child, index, subject, referrer] {
                #expect(try await t.hub.registry.manifest(kept, in: name) != nil, "\(kept) is kept")
            }
            #expect(try await stored(Self.layer("child-layer"), in: t))
            #expect(try await !stored(Self.layer("loose-layer"), in: t))
            // Untagging the index frees it and then, in the same run, its child.
            try await t.hub.registry.deleteManifest(.tag(Tag("multi")!), in: name, by: "alice")
            t.clock.advance(by: 86401)
            let next = try await t.hub.garbageCollector.run(policy, dryRun: false)
            #expect(Set(next.deletedManifests.map(\.digest)) == [index, child])
            #expect(try await !stored(Self.layer("child-layer"), in: t))
        }
    }

    @Test("a dry run reports exactly what the real run then reclaims, and changes nothing")
    func dryRun() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            try await t.push("alice/app", tag: "v1", layer: "one", by: "alice")
            try await t.push("alice/app", tag: "v2", layer: "two", by: "alice")
            try await t.push("alice/gone", tag: "v1", layer: "three", by: "alice")
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: name, by: "alice")
            try await t.hub.repositories.delete(RepositoryName("alice/gone")!, by: TestHub.alice)
            let dry = try await t.hub.garbageCollector.run(Self.now, dryRun: true)
            #expect(dry.dryRun && dry.manifests == 1 && dry.blobs == 2)
            #expect(try await stored(Self.layer("one"), in: t))
            #expect(try await stored(Self.layer("three"), in: t))
            #expect(try await t.hub.stores.metadata.existingManifests(dry.deletedManifests.map(\.digest), in: name).count == 1)
            let real = try await t.hub.garbageCollector.run(Self.now, dryRun: false)
            #expect(real.manifests == dry.manifests && real.blobs == dry.blobs && real.bytes == dry.bytes)
            #expect(Set(real.deletedBlobs) == Set(dry.deletedBlobs))
        }
    }

    @Test("only administrators run it through the hub")
    func permissions() async throws {
        try await TestHub.run { t in
            await #expect(throws: HubError.self) { _ = try await t.hub.garbageCollector.run(dryRun: true, gracePeriod: nil, by: TestHub.alice) }
            await #expect(throws: HubError.self) { _ = try await t.hub.garbageCollector.run(dryRun: true, gracePeriod: -1, by: TestHub.root) }
            let report = try await t.hub.garbageCollector.run(dryRun: true, gracePeriod: 0, by: TestHub.root)
            #expect(report.dryRun)
        }
    }

    @Test("bytes in storage the database never knew (a crash between commit and link) are swept")
    func sweep() async throws {
        try await TestHub.run { t in
            let bytes = Array("left by a crash".utf8)
            let digest = Digest.of(bytes)
            try await t.hub.registry.blobs.createUpload("crashed")
            let writer = try await t.hub.registry.blobs.appendToUpload("crashed", at: 0)
            try await writer.write(ByteBuffer(bytes: bytes))
            _ = try await writer.close()
            try await t.hub.registry.blobs.commitUpload("crashed", as: digest)
            #expect(try await stored(digest, in: t))
            let dry = try await t.hub.garbageCollector.run(Self.now, dryRun: true)
            #expect(dry.deletedBlobs.map(\.digest) == [digest])
            let report = try await t.hub.garbageCollector.run(Self.now, dryRun: false)
            #expect(report.deletedBlobs.map(\.digest) == [digest])
            #expect(try await !stored(digest, in: t))
        }
    }

    @Test("an upload of a blob GC has claimed waits for the deletion, then stores and links it again")
    func uploadWaitsForClaim() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            try await t.push("alice/app", tag: "v1", layer: "reborn", by: "alice")
            try await t.hub.repositories.delete(name, by: TestHub.alice)
            let digest = Self.layer("reborn")
            try await t.hub.stores.garbage.markOrphans(at: t.clock.now)
            let claimed = try await t.hub.stores.garbage.claimBlobs([digest], orphanedBefore: t.clock.now, at: t.clock.now)
            #expect(claimed.map(\.digest) == [digest])
            let upload = Task {
                try await t.hub.registry.uploadMonolithic(into: name, digest: digest, by: "alice", body: TestHub.body(Array("reborn".utf8)))
            }
            try await Task.sleep(for: .milliseconds(300))
            // The collector deletes the old bytes and forgets the blob; only then the upload goes on.
            try await t.hub.registry.blobs.delete(digest)
            try await t.hub.stores.garbage.forgetBlobs([digest])
            #expect(try await upload.value == 6)
            #expect(try await stored(digest, in: t))
            #expect(try await t.hub.registry.linkedBlobSize(digest, in: name) == 6)
            // A mount from a repository whose blob is claimed falls back to an upload.
            try await t.hub.stores.garbage.markOrphans(at: t.clock.now)
            #expect(try await t.hub.stores.garbage.claimBlobs([digest], orphanedBefore: t.clock.now, at: t.clock.now).isEmpty, "linked: not claimable")
        }
    }

    @Test("pushes of images sharing layers while GC runs in a loop: every acknowledged tag pulls whole")
    func concurrentPushesAndCollections() async throws {
        for database in TestDatabase.available {
            try await database.withFreshDatabase { access in
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-gc-\(UUID().uuidString)").path
                defer { try? FileManager.default.removeItem(atPath: folder) }
                let stores = try await Stores.open(access, clock: SystemClock())
                let hub = Hub(stores: stores, blobs: try ContentAddressedBlobStore.fileSystem(root: folder), settings: HubSettings(),
                              hasher: PasswordHasher(cost: 4))
                try await Self.race(hub)
            }
        }
    }

    /// Three pushers push and untag images that share layers (60 rounds each, at least 6 s) while a
    /// collector runs in a loop, deleting untagged manifests at once and unlinked blobs after 1 s.
    static func race(_ hub: Hub) async throws {
        let policy = GarbageCollector.Policy(gracePeriod: 1, untaggedManifestAge: 0)
        let name = RepositoryName("race/app")!
        let pushing = Pushers(3)
        let acknowledged = try await withThrowingTaskGroup(of: [String: Digest].self) { group in
            for pusher in 0..<3 {
                group.addTask {
                    defer { pushing.finished() }
                    var tags: [String: Digest] = [:]
                    for round in 1...60 {
                        let tag = "p\(pusher)-\(round % 4)"
                        // Layers shared across pushers and rounds, one that comes back after being orphaned
                        // for a while, and one of the round's own (orphaned once its tag moves on).
                        let layers = ["shared-\(round % 3)", "cycle-\(pusher)-\(round / 15 % 2)", "own-\(pusher)-\(round)"]
                        for attempt in 1...10 {
                            do {
                                tags[tag] = try await pushImage(hub, repository: "race/app", tag: tag, layers: layers)
                                break
                            } catch let error as RegistryError where [.manifestBlobUnknown, .manifestChildUnknown].contains(error.code) {
                                // A collector took a blob between its upload and the manifest: the push failed
                                // cleanly (the tag did not move) and the client pushes again.
                                if attempt == 10 { throw error }
                            }
                        }
                        if round % 3 == 0, let victim = tags.keys.sorted().first {
                            try await hub.registry.deleteManifest(.tag(Tag(victim)!), in: name, by: nil)
                            tags[victim] = nil
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return tags
                }
            }
            group.addTask {
                var (runs, reclaimed) = (0, 0)
                while pushing.active {
                    reclaimed += try await hub.garbageCollector.run(policy, dryRun: false).blobs
                    runs += 1
                }
                #expect(runs > 3)
                #expect(reclaimed > 0, "the collector reclaimed blobs while pushes went on")
                return [:]
            }
            var all: [String: Digest] = [:]
            for try await tags in group { all.merge(tags) { $1 } }
            return all
        }
        #expect(!acknowledged.isEmpty)
        for (tag, digest) in acknowledged {
            let manifest = try await hub.registry.manifest(.tag(Tag(tag)!), in: name, accepting: AcceptedMediaTypes(headerValues: []))
            #expect(manifest.digest == digest, "tag \(tag)")
            for blob in try Manifest.parse(manifest.content, contentType: manifest.mediaType).requiredBlobs {
                var hasher = DigestHasher(blob.algorithm)
                try await hub.registry.readBlob(blob, range: nil) { buffer in buffer.withUnsafeReadableBytes { hasher.update($0) } }
                #expect(hasher.finalize() == blob, "blob \(blob) of \(tag) is whole")
                #expect(try await hub.registry.linkedBlobSize(blob, in: name) != nil)
            }
        }
    }

    /// Pushes an image of `layers` (text) with a config, as docker does: blobs first, then the manifest.
    static func pushImage(_ hub: Hub, repository: String, tag: String, layers: [String]) async throws -> Digest {
        let name = RepositoryName(repository)!
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"diff_ids":[]}}"#.utf8)
        var descriptors: [String] = []
        for blob in [config] + layers.map({ Array($0.utf8) }) {
            let digest = Digest.of(blob)
            if try await hub.registry.linkedBlobSize(digest, in: name) == nil {
                _ = try await hub.registry.uploadMonolithic(into: name, digest: digest, by: nil, body: TestHub.body(blob))
            }
            descriptors.append(#"{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(digest)","size":\#(blob.count)}"#)
        }
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(Digest.of(config))","size":\(config.count)},
            "layers":[\(descriptors.dropFirst().joined(separator: ","))]}
            """.utf8)
        return try await hub.registry.putManifest(manifest, contentType: MediaType.ociManifest, reference: .tag(Tag(tag)!), in: name, by: nil).stored.digest
    }

    func pushIndex(of child: Digest, to repository: String, tag: String, in t: TestHub) async throws -> Digest {
        let name = RepositoryName(repository)!
        let size = try #require(try await t.hub.registry.manifest(child, in: name)).content.count
        let index = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociIndex)","manifests":[{"mediaType":"\(MediaType.ociManifest)",
            "digest":"\(child)","size":\(size),"platform":{"architecture":"amd64","os":"linux"}}]}
            """.utf8)
        return try await t.hub.registry.putManifest(index, contentType: MediaType.ociIndex, reference: .tag(Tag(tag)!), in: name, by: "alice").stored.digest
    }

    func pushReferrer(to subject: Digest, in repository: String, t: TestHub) async throws -> Digest {
        let name = RepositoryName(repository)!
        let size = try #require(try await t.hub.registry.manifest(subject, in: name)).content.count
        let empty = Array("{}".utf8)
        _ = try await t.hub.registry.uploadMonolithic(into: name, digest: Digest.of(empty), by: "alice", body: TestHub.body(empty))
        let bytes = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","artifactType":"application/example.sig",
            "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\(Digest.of(empty))","size":2},
            "layers":[],"subject":{"mediaType":"\(MediaType.ociManifest)","digest":"\(subject)","size":\(size)}}
            """.utf8)
        let digest = Digest.of(bytes)
        return try await t.hub.registry.putManifest(bytes, contentType: MediaType.ociManifest, reference: .digest(digest), in: name, by: "alice").stored.digest
    }
}

/// How many pushers of the race are still pushing.
private final class Pushers: Sendable {
    private let count: Mutex<Int>
    init(_ count: Int) { self.count = Mutex(count) }
    var active: Bool { count.withLock { $0 > 0 } }
    func finished() { count.withLock { $0 -= 1 } }
}
