import Foundation
import NIOCore
import Testing
import WharfCore
@testable import WharfStorage

/// The behaviour every `StorageDriver` must have. Each driver's test suite runs all of these
/// against its own backend (the filesystem here; S3 when it comes).
enum StorageDriverConformance {
    static func readAll(_ driver: any StorageDriver, _ key: String, range: Range<Int64>? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await driver.read(key, range: range) { bytes += Array(buffer: $0) }
        return bytes
    }

    static func stream(_ pieces: [[UInt8]]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            for piece in pieces { continuation.yield(ByteBuffer(bytes: piece)) }
            continuation.finish()
        }
    }

    /// Put, stat, read whole and in ranges, list by prefix, delete.
    static func objects(_ driver: any StorageDriver) async throws {
        #expect(try await driver.size(of: "objects/a/one") == nil)
        try await driver.put("objects/a/one", from: stream([Array("hello, ".utf8), Array("driver".utf8)]))
        try await driver.put("objects/b/two", from: stream([[1, 2, 3]]))
        try await driver.put("other/three", from: stream([]))
        #expect(try await driver.size(of: "objects/a/one") == 13)
        #expect(try await readAll(driver, "objects/a/one") == Array("hello, driver".utf8))
        #expect(try await readAll(driver, "objects/a/one", range: 7..<13) == Array("driver".utf8))
        #expect(try await driver.size(of: "other/three") == 0)
        #expect(try await driver.list(prefix: "objects/").map(\.key) == ["objects/a/one", "objects/b/two"])
        #expect(try await driver.list(prefix: "objects/b").map(\.size) == [3])
        try await driver.delete("objects/a/one")
        try await driver.delete("objects/a/none")  // deleting nothing is fine
        #expect(try await driver.size(of: "objects/a/one") == nil)
        #expect(try await driver.list(prefix: "objects/").map(\.key) == ["objects/b/two"])
    }

    /// Parts appended one after another; a part that failed half-way is replaced by the next one
    /// starting at the same offset; the upload reads back so far, and completes into an object.
    static func resumableUploads(_ driver: any StorageDriver) async throws {
        try await driver.startUpload("u1")
        #expect(try await driver.uploads().map(\.id).contains("u1"))
        var writer = try await driver.appendPart(to: "u1", at: 0)
        try await writer.write(ByteBuffer(bytes: Array("first-".utf8)))
        #expect(try await writer.close() == 6)
        writer = try await driver.appendPart(to: "u1", at: 6)
        try await writer.write(ByteBuffer(bytes: Array("broken part".utf8)))
        _ = try await writer.close()
        writer = try await driver.appendPart(to: "u1", at: 6)  // the broken part is discarded
        try await writer.write(ByteBuffer(bytes: Array("second".utf8)))
        #expect(try await writer.close() == 12)
        var sofar: [UInt8] = []
        try await driver.readUpload("u1", range: 0..<12) { sofar += Array(buffer: $0) }
        #expect(sofar == Array("first-second".utf8))
        try await driver.completeUpload("u1", as: "done/u1")
        #expect(try await readAll(driver, "done/u1") == Array("first-second".utf8))
        #expect(try await !driver.uploads().map(\.id).contains("u1"))
        try await driver.startUpload("u2")
        try await driver.abortUpload("u2")
        #expect(try await !driver.uploads().map(\.id).contains("u2"))
        try await driver.checkHealth()
    }
}

@Suite("Storage driver conformance: filesystem")
struct FileSystemDriverConformanceTests {
    func withDriver(_ body: (FileSystemDriver) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-driver-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await body(try FileSystemDriver(root: root))
    }

    @Test("objects: put, size, read ranges, list by prefix, delete")
    func objects() async throws {
        try await withDriver { try await StorageDriverConformance.objects($0) }
    }

    @Test("resumable uploads: parts, a failed part replaced, read so far, complete, abort")
    func uploads() async throws {
        try await withDriver { try await StorageDriverConformance.resumableUploads($0) }
    }
}
