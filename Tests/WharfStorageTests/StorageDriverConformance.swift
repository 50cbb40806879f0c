import AsyncHTTPClient
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

/// The same suite on an S3-compatible store, when the tests have one (`scripts/test-s3` starts
/// SeaweedFS and sets `WHARF_TEST_S3_URL`, `WHARF_TEST_S3_ACCESS_KEY`, `WHARF_TEST_S3_SECRET_KEY`).
/// The test S3 store under `prefix`, when the tests have one.
func testS3Location(prefix: String) -> S3Location? {
    S3DriverConformanceTests.location(prefix: prefix)
}

@Suite("Storage driver conformance: S3", .enabled(if: testS3Location(prefix: "probe") != nil, "no S3 store for the tests (WHARF_TEST_S3_URL)"))
struct S3DriverConformanceTests {
    static func location(prefix: String) -> S3Location? {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["WHARF_TEST_S3_URL"], var components = URLComponents(string: url) else { return nil }
        components.path = "/" + [components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/")), prefix]
            .filter { !$0.isEmpty }.joined(separator: "/")
        return try? S3Location(url: components.string!, environment: [
            "AWS_ACCESS_KEY_ID": environment["WHARF_TEST_S3_ACCESS_KEY"] ?? "",
            "AWS_SECRET_ACCESS_KEY": environment["WHARF_TEST_S3_SECRET_KEY"] ?? "",
        ])
    }

    /// A driver under a fresh prefix, with 5 MiB parts.
    func driver() throws -> S3Driver {
        S3Driver(location: try #require(Self.location(prefix: "conformance-\(UUID().uuidString.lowercased())")), partSize: 5 << 20)
    }

    @Test("objects: put, size, read ranges, list by prefix, delete")
    func objects() async throws {
        try await StorageDriverConformance.objects(try driver())
    }

    @Test("resumable uploads: parts, a failed part replaced, read so far, complete, abort")
    func uploads() async throws {
        try await StorageDriverConformance.resumableUploads(try driver())
    }

    @Test("an upload of several parts larger than one piece completes byte for byte, and a large put too")
    func largeUpload() async throws {
        let driver = try driver()
        let content = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        try await driver.startUpload("big")
        var offset = 0
        for size in [3 << 20, 6 << 20, 3 << 20] {
            let writer = try await driver.appendPart(to: "big", at: Int64(offset))
            try await writer.write(ByteBuffer(bytes: content[offset..<offset + size]))
            offset += size
            #expect(try await writer.close() == Int64(offset))
        }
        try await driver.completeUpload("big", as: "blobs/big")
        #expect(try await driver.size(of: "blobs/big") == Int64(content.count))
        #expect(try await StorageDriverConformance.readAll(driver, "blobs/big") == content)
        #expect(try await StorageDriverConformance.readAll(driver, "blobs/big", range: 7_000_000..<7_000_010) == Array(content[7_000_000..<7_000_010]))
        try await driver.put("blobs/put", from: StorageDriverConformance.stream(stride(from: 0, to: content.count, by: 1 << 20).map {
            Array(content[$0..<min($0 + (1 << 20), content.count)])
        }))
        #expect(try await StorageDriverConformance.readAll(driver, "blobs/put") == content)
    }

    @Test("uploads assembled from parts copied on the server and parts streamed through are byte for byte")
    func assembledUploads() async throws {
        let driver = try driver()
        let content = (0..<(17 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        // Parts (5 MiB pieces): 5, 5, 2 — each a piece copied on the server (the small one is last);
        // and 5, 2, 5, 5 — a copy, then everything after the small part streamed.
        for (name, requests) in [("copied", [5, 5, 2]), ("mixed", [5, 2, 5, 5])] {
            try await driver.startUpload(name)
            var offset = 0
            for mib in requests {
                let writer = try await driver.appendPart(to: name, at: Int64(offset))
                try await writer.write(ByteBuffer(bytes: content[offset..<offset + (mib << 20)]))
                offset += mib << 20
                #expect(try await writer.close() == Int64(offset))
            }
            try await driver.completeUpload(name, as: "blobs/\(name)")
            #expect(try await driver.size(of: "blobs/\(name)") == Int64(offset))
            #expect(try await StorageDriverConformance.readAll(driver, "blobs/\(name)") == Array(content[0..<offset]))
        }
    }

    @Test("reads: a slow reader gets every byte in order, a reader that stops early ends the request, a missing object is an error")
    func reads() async throws {
        let driver = try driver()
        let content = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_246_822_519 >> 13) }
        try await driver.put("blobs/r", from: StorageDriverConformance.stream([content]))
        // Slow: the store's reads wait while batches are not taken (backpressure), and nothing is lost.
        var slow: [UInt8] = []
        var pieces = 0
        try await driver.read("blobs/r", range: nil) { buffer in
            pieces += 1
            if pieces % 16 == 0 { try await Task.sleep(for: .milliseconds(20)) }
            slow += Array(buffer: buffer)
        }
        #expect(slow == content)
        struct Enough: Error {}
        await #expect(throws: Enough.self) {
            try await driver.read("blobs/r", range: 1..<(8 << 20)) { _ in throw Enough() }
        }
        #expect(try await StorageDriverConformance.readAll(driver, "blobs/r", range: 5..<9) == Array(content[5..<9]))
        await #expect(throws: S3Error.self) {
            try await driver.read("blobs/missing", range: nil) { _ in }
        }
    }

    @Test("a presigned URL serves the object without credentials")
    func presigned() async throws {
        let driver = try driver()
        try await driver.put("blobs/p", from: StorageDriverConformance.stream([Array("presigned".utf8)]))
        let url = try #require(driver.presignedURL(for: "blobs/p", expires: 60))
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(Array(buffer: try await response.body.collect(upTo: 1024)) == Array("presigned".utf8))
    }
}
