import Foundation
import NIOCore
import Synchronization
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
import WharfStorage
@testable import WharfHub

/// An upload continued on another replica: a second hub over the same database and blob folder,
/// with a hash cache of its own (empty), as another `wharf` process has.
@Suite("Uploads across replicas")
struct UploadReplicaTests {
    /// The real filesystem driver, counting how often upload bytes are read back.
    final class ReadCountingDriver: StorageDriver {
        let base: FileSystemDriver
        /// Calls of `readUpload`, and the bytes they asked for.
        let uploadReads = Mutex((calls: 0, bytes: Int64(0)))

        init(base: FileSystemDriver) { self.base = base }

        func size(of key: String) async throws -> Int64? { try await base.size(of: key) }
        func read(_ key: String, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
            try await base.read(key, range: range, into: consume)
        }
        func put<Body: AsyncSequence & Sendable>(_ key: String, from body: Body) async throws where Body.Element == ByteBuffer {
            try await base.put(key, from: body)
        }
        func delete(_ key: String) async throws { try await base.delete(key) }
        func list(prefix: String) async throws -> [StoredObject] { try await base.list(prefix: prefix) }
        func startUpload(_ id: String) async throws { try await base.startUpload(id) }
        func appendPart(to id: String, at offset: Int64) async throws -> any UploadWriter { try await base.appendPart(to: id, at: offset) }
        func readUpload(_ id: String, range: Range<Int64>, into consume: (ByteBuffer) async throws -> Void) async throws {
            uploadReads.withLock { $0 = ($0.calls + 1, $0.bytes + Int64(range.count)) }
            try await base.readUpload(id, range: range, into: consume)
        }
        func completeUpload(_ id: String, as key: String) async throws { try await base.completeUpload(id, as: key) }
        func abortUpload(_ id: String) async throws { try await base.abortUpload(id) }
        func uploads() async throws -> [(id: String, modified: Date)] { try await base.uploads() }
        func checkHealth() async throws { try await base.checkHealth() }
    }

    /// Two replicas' registries over the test hub's database and blob folder, each with a hash
    /// cache of its own and a driver counting its reads of upload bytes.
    func replicas(_ test: TestHub) throws -> [(registry: Registry, driver: ReadCountingDriver)] {
        try (0..<2).map { _ in
            let driver = ReadCountingDriver(base: try FileSystemDriver(root: test.folder))
            let hub = Hub(stores: test.hub.stores, blobs: ContentAddressedBlobStore(driver: driver), settings: HubSettings(),
                          hasher: PasswordHasher(cost: 4))
            return (hub.registry, driver)
        }
    }

    static let none: AsyncThrowingStream<ByteBuffer, any Error>? = nil

    @Test("docker's way (PATCH on one replica, PUT on another): the digest recorded with the chunk completes it, nothing is read back")
    func completedElsewhere() async throws {
        try await TestHub.run { test in
            let name = RepositoryName("alice/app")!
            let (a, b) = try { let r = try replicas(test); return (r[0], r[1]) }()
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
            var session = try await a.registry.startUpload(in: name)
            #expect(session.stagedDigest == nil)
            session = try await a.registry.appendUpload(session.id, in: name, range: nil, body: TestHub.body(bytes))
            #expect(session.stagedDigest == Digest.of(bytes))
            #expect(try await b.registry.upload(session.id, in: name).stagedDigest == Digest.of(bytes))
            #expect(try await b.registry.finishUpload(session.id, in: name, digest: Digest.of(bytes), by: "alice", lastChunk: Self.none) == 300_000)
            #expect(b.driver.uploadReads.withLock { $0.calls } == 0)
            #expect(try await b.registry.linkedBlobSize(Digest.of(bytes), in: name) == 300_000)

            // A wrong digest is refused from the recorded one too.
            session = try await a.registry.startUpload(in: name)
            session = try await a.registry.appendUpload(session.id, in: name, range: nil, body: TestHub.body(Array(bytes.reversed())))
            await #expect(throws: RegistryError.self) {
                try await b.registry.finishUpload(session.id, in: name, digest: Digest.of(bytes.shuffled()), by: "alice", lastChunk: Self.none)
            }
        }
    }

    @Test("chunks alternating between replicas: each reads back only the chunks the other received since its own, and the blob verifies")
    func alternatingChunks() async throws {
        try await TestHub.run { test in
            let name = RepositoryName("alice/app")!
            let (a, b) = try { let r = try replicas(test); return (r[0], r[1]) }()
            let bytes = (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 2_246_822_519 >> 13) }
            let session = try await a.registry.startUpload(in: name)
            for (index, start) in stride(from: 0, to: bytes.count, by: 100_000).enumerated() {
                let replica = index.isMultiple(of: 2) ? a : b
                let chunk = Array(bytes[start..<start + 100_000])
                let after = try await replica.registry.appendUpload(session.id, in: name, range: Int64(start)...Int64(start + 99_999),
                                                                    body: TestHub.body(chunk))
                #expect(after.stagedDigest == Digest.of(Array(bytes[..<(start + 100_000)])))
            }
            // b read chunk 1 before chunk 2; a read chunk 2 before chunk 3; b read chunk 3 before chunk 4.
            #expect(a.driver.uploadReads.withLock { $0 } == (1, 100_000))
            #expect(b.driver.uploadReads.withLock { $0 } == (2, 200_000))
            #expect(try await a.registry.finishUpload(session.id, in: name, digest: Digest.of(bytes), by: "alice", lastChunk: Self.none) == 400_000)
            #expect(try await a.registry.linkedBlobSize(Digest.of(bytes), in: name) == 400_000)
        }
    }
}
