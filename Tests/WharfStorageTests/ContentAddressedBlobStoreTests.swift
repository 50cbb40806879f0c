import Foundation
import NIOCore
import Testing
import WharfCore
@testable import WharfStorage

@Suite("Content-addressed blob store on the filesystem driver")
struct FileSystemBlobStoreTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-test-\(UUID().uuidString)").path

    func readAll(_ store: ContentAddressedBlobStore, _ digest: Digest, range: Range<Int64>? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await store.read(digest, range: range) { bytes += Array(buffer: $0) }
        return bytes
    }

    @Test("an upload committed under its digest reads back whole and in ranges")
    func commitAndRead() async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let content = Array("hello, wharf".utf8)
        try await store.createUpload("u1")
        let writer = try await store.appendToUpload("u1", at: 0)
        try await writer.write(ByteBuffer(bytes: content.prefix(5)))
        try await writer.write(ByteBuffer(bytes: content.dropFirst(5)))
        #expect(try await writer.close() == Int64(content.count))
        let digest = Digest.of(content)
        try await store.commitUpload("u1", as: digest)
        #expect(try await store.size(of: digest) == Int64(content.count))
        #expect(try await readAll(store, digest) == content)
        #expect(try await readAll(store, digest, range: 7..<12) == Array("wharf".utf8))
        #expect(try await store.stagedUploads().isEmpty)
        #expect(FileManager.default.fileExists(atPath: "\(root)/blobs/sha256/\(digest.encoded.prefix(2))/\(digest.encoded)"))
    }

    @Test("an upload spanning several early-writeback steps is stored byte for byte")
    func writebackSteps() async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let piece = 3 << 20  // not a divisor of the step, so writeback ranges straddle writes
        let content = (0..<(piece * 7)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try await store.createUpload("big")
        let writer = try await store.appendToUpload("big", at: 0)
        for start in stride(from: 0, to: content.count, by: piece) {
            try await writer.write(ByteBuffer(bytes: content[start..<start + piece]))
        }
        #expect(try await writer.close() == Int64(content.count))
        #expect(Int64(content.count) > 2 * FileUploadWriter.writebackStep)
        let digest = Digest.of(content)
        try await store.commitUpload("big", as: digest)
        #expect(try await readAll(store, digest) == content)
    }

    @Test("chunks of odd sizes, each through its own writer, are stored byte for byte, with direct I/O and without (as where the filesystem refuses it)",
          arguments: [true, false])
    func unalignedChunks(directIO: Bool) async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root, directIO: directIO)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sizes = [1, 4095, 4097, 3 << 20 | 123, 17, 2 << 20, 5000, (2 << 20) - 1, 65_537]
        let content = (0..<sizes.reduce(0, +)).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 7) }
        try await store.createUpload("odd")
        var offset = 0
        for size in sizes {
            let writer = try await store.appendToUpload("odd", at: Int64(offset))
            // Each chunk arrives in a few uneven buffers, as from the network.
            var start = offset
            for cut in [offset + size / 3, offset + size / 3 + 1, offset + size] where cut > start {
                try await writer.write(ByteBuffer(bytes: content[start..<cut]))
                start = cut
            }
            offset += size
            #expect(try await writer.close() == Int64(offset))
        }
        var staged: [UInt8] = []
        try await store.readUpload("odd", range: 0..<Int64(offset)) { staged += Array(buffer: $0) }
        #expect(staged == content)
        let digest = Digest.of(content)
        try await store.commitUpload("odd", as: digest)
        #expect(try await readAll(store, digest) == content)
    }

    @Test("appending at an earlier offset discards bytes past it")
    func truncatesToOffset() async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await store.createUpload("u2")
        var writer = try await store.appendToUpload("u2", at: 0)
        try await writer.write(ByteBuffer(bytes: Array("abcdef".utf8)))
        _ = try await writer.close()
        writer = try await store.appendToUpload("u2", at: 3)
        try await writer.write(ByteBuffer(bytes: Array("XY".utf8)))
        #expect(try await writer.close() == 5)
        var staged: [UInt8] = []
        try await store.readUpload("u2", range: 0..<5) { staged += Array(buffer: $0) }
        #expect(staged == Array("abcXY".utf8))
    }

    @Test("committing a blob that is already stored keeps one copy and drops the upload")
    func dedupes() async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let content = Array("same".utf8)
        let digest = Digest.of(content)
        for id in ["a", "b"] {
            try await store.createUpload(id)
            let writer = try await store.appendToUpload(id, at: 0)
            try await writer.write(ByteBuffer(bytes: content))
            _ = try await writer.close()
            try await store.commitUpload(id, as: digest)
        }
        #expect(try await store.stagedUploads().isEmpty)
        #expect(try await readAll(store, digest) == content)
    }

    @Test("a missing blob has no size and deleting an upload removes its bytes")
    func missingAndDelete() async throws {
        let store = try ContentAddressedBlobStore.fileSystem(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try await store.size(of: Digest.of([1, 2, 3])) == nil)
        try await store.createUpload("gone")
        #expect(try await store.stagedUploads().map(\.id) == ["gone"])
        try await store.deleteUpload("gone")
        #expect(try await store.stagedUploads().isEmpty)
        try await store.checkHealth()
    }
}
