import AsyncHTTPClient
import Foundation
import NIOCore

/// A `StorageDriver` on an S3-compatible object store, shared by every replica.
///
/// Layout under the location's prefix: an object with key `k` is the S3 object `prefix/k`;
/// upload `id` is `prefix/uploads/<id>/started` plus one object per part,
/// `prefix/uploads/<id>/part-<offset>` (offset zero-padded, so parts list in order). Any replica
/// can add parts or read them back. Completion copies a single part on the server, or assembles
/// a multipart upload: parts of at least 5 MiB are copied into it on the server (UploadPartCopy),
/// smaller ones streamed through into pieces of `partSize`; only then does the object appear.
public struct S3Driver: StorageDriver {
    let client: S3Client
    /// Bytes gathered before a part (or a multipart piece) is sent; S3 wants at least 5 MiB.
    let partSize: Int

    public init(location: S3Location, partSize: Int = 8 << 20) {
        client = S3Client(location: location)
        self.partSize = max(partSize, 5 << 20)
    }

    private func object(_ key: String) -> String { client.location.objectKey(key) }
    private func uploadFolder(_ id: String) -> String { object("uploads/\(id)/") }
    private func partKey(_ id: String, offset: Int64) -> String { uploadFolder(id) + "part-" + String(format: "%020lld", offset) }

    public func size(of key: String) async throws -> Int64? {
        try await client.head(object(key))
    }

    public func read(_ key: String, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await client.get(object(key), range: range, into: consume)
    }

    public func put<Body: AsyncSequence & Sendable>(_ key: String, from body: Body) async throws where Body.Element == ByteBuffer {
        let writer = S3ObjectWriter(client: client, key: object(key), partSize: partSize)
        do {
            for try await buffer in body { try await writer.write(buffer) }
            try await writer.finish()
        } catch {
            await writer.abandon()
            throw error
        }
    }

    public func delete(_ key: String) async throws {
        try await client.delete(object(key))
    }

    public func list(prefix: String) async throws -> [StoredObject] {
        let base = client.location.prefix.isEmpty ? "" : client.location.prefix + "/"
        return try await client.list(prefix: object(prefix)).compactMap { found in
            guard found.key.hasPrefix(base) else { return nil }
            let key = String(found.key.dropFirst(base.count))
            return key.hasPrefix("uploads/") ? nil : StoredObject(key: key, size: found.size, modified: found.modified)
        }.sorted { $0.key < $1.key }
    }

    // MARK: Uploads

    public func startUpload(_ id: String) async throws {
        try await client.put(uploadFolder(id) + "started", ByteBuffer())
    }

    /// The upload's parts in order, with their offsets.
    private func parts(_ id: String) async throws -> [(offset: Int64, object: StoredObject)] {
        try await client.list(prefix: uploadFolder(id) + "part-").compactMap { found in
            guard let offset = Int64(found.key.suffix(20)) else { return nil }
            return (offset, found)
        }.sorted { $0.offset < $1.offset }
    }

    public func appendPart(to id: String, at offset: Int64) async throws -> any UploadWriter {
        // A part that failed half-way left bytes past `offset`: they are not part of the upload.
        for stale in try await parts(id) where stale.offset >= offset {
            try await client.delete(stale.object.key)
        }
        return S3PartWriter(client: client, id: id, start: offset, partSize: partSize) { partKey(id, offset: $0) }
    }

    public func readUpload(_ id: String, range: Range<Int64>, into consume: (ByteBuffer) async throws -> Void) async throws {
        for part in try await parts(id) {
            let span = part.offset..<(part.offset + part.object.size)
            let wanted = span.clamped(to: range)
            guard !wanted.isEmpty else { continue }
            try await client.get(part.object.key, range: (wanted.lowerBound - part.offset)..<(wanted.upperBound - part.offset), into: consume)
        }
    }

    public func completeUpload(_ id: String, as key: String) async throws {
        let parts = try await parts(id)
        var expected: Int64 = 0
        for part in parts {
            guard part.offset == expected else { throw S3Error.status(0, "completeUpload", "upload \(id) has a gap at \(expected)") }
            expected += part.object.size
        }
        switch parts.count {
        case 0:
            try await client.put(object(key), ByteBuffer())
        case 1:
            try await client.copy(from: parts[0].object.key, to: object(key))
        default:
            let writer = S3ObjectWriter(client: client, key: object(key), partSize: partSize)
            do {
                for (index, part) in parts.enumerated() {
                    // A part big enough to be a piece of its own (or the last) is copied on the
                    // server; smaller ones are streamed into pieces of `partSize`.
                    let isLast = index == parts.count - 1
                    if !(try await writer.copyPiece(from: part.object.key, size: part.object.size, isLast: isLast)) {
                        try await client.get(part.object.key, range: nil) { try await writer.write($0) }
                    }
                }
                try await writer.finish()
            } catch {
                await writer.abandon()
                throw error
            }
        }
        try await abortUpload(id)
    }

    public func abortUpload(_ id: String) async throws {
        for found in try await client.list(prefix: uploadFolder(id)) {
            try await client.delete(found.key)
        }
    }

    public func uploads() async throws -> [(id: String, modified: Date)] {
        var latest: [String: Date] = [:]
        let folder = object("uploads/")
        for found in try await client.list(prefix: folder) {
            guard let id = found.key.dropFirst(folder.count).split(separator: "/").first.map(String.init) else { continue }
            latest[id] = max(latest[id] ?? .distantPast, found.modified)
        }
        return latest.map { ($0.key, $0.value) }
    }

    public func checkHealth() async throws {
        _ = try await client.head(object("uploads/.health"))
    }

    /// A presigned URL clients may fetch the object from directly, valid `expires` seconds.
    public func presignedURL(for key: String, expires: Int) -> String? {
        client.presignedGet(object(key), expires: expires)
    }
}

/// Writes one request's bytes of an upload as part objects of at most `partSize` bytes.
/// Owned by one request, which awaits each call and always ends with `close()`.
final class S3PartWriter: UploadWriter, @unchecked Sendable {
    private let client: S3Client
    private let id: String
    private let partSize: Int
    private let key: (Int64) -> String
    private var offset: Int64
    private var pending: ByteBuffer

    init(client: S3Client, id: String, start: Int64, partSize: Int, key: @escaping (Int64) -> String) {
        self.client = client
        self.id = id
        self.partSize = partSize
        self.key = key
        offset = start
        pending = ByteBuffer()
        pending.reserveCapacity(partSize)
    }

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        while pending.fill(from: &buffer, upTo: partSize) { try await flush() }
    }

    private func flush() async throws {
        guard pending.readableBytes > 0 else { return }
        try await client.put(key(offset), pending)
        offset += Int64(pending.readableBytes)
        pending.clear()
    }

    func close() async throws -> Int64 {
        try await flush()
        return offset
    }
}

/// Writes one object from a stream: a single PUT when it fits in one piece, else a multipart
/// upload of `partSize` pieces (so memory stays at one piece whatever the object's size).
final class S3ObjectWriter: @unchecked Sendable {
    private let client: S3Client
    private let key: String
    private let partSize: Int
    private var pending = ByteBuffer()
    private var uploadID: String?
    private var etags: [String] = []

    init(client: S3Client, key: String, partSize: Int) {
        self.client = client
        self.key = key
        self.partSize = partSize
    }

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        while pending.fill(from: &buffer, upTo: partSize) { try await sendPiece() }
    }

    private func sendPiece() async throws {
        etags.append(try await client.uploadPart(key, uploadID: try await multipartUpload(), number: etags.count + 1, pending))
        pending.clear()
    }

    private func multipartUpload() async throws -> String {
        if let uploadID { return uploadID }
        let id = try await client.createMultipart(key)
        uploadID = id
        return id
    }

    /// Makes the object `source` (of `size` bytes) the next piece, copied on the server, when it
    /// can be one: nothing streamed is waiting, and it is at least S3's smallest piece (5 MiB) or
    /// the last. Returns false when it cannot (then stream it with `write`).
    func copyPiece(from source: String, size: Int64, isLast: Bool) async throws -> Bool {
        guard pending.readableBytes == 0, size > 0, size >= Self.smallestPiece || isLast else { return false }
        etags.append(try await client.uploadPartCopy(key, uploadID: try await multipartUpload(), number: etags.count + 1, from: source))
        return true
    }

    /// The least size of a piece of a multipart upload but the last.
    static let smallestPiece: Int64 = 5 << 20

    func finish() async throws {
        guard let uploadID else {
            try await client.put(key, pending)
            return
        }
        if pending.readableBytes > 0 { try await sendPiece() }
        try await client.completeMultipart(key, uploadID: uploadID, etags: etags)
    }

    func abandon() async {
        if let uploadID { try? await client.abortMultipart(key, uploadID: uploadID) }
    }
}

extension ByteBuffer {
    /// Moves bytes from `source` until this buffer holds `size`; true when it is full (empty it,
    /// then call again while `source` has bytes left).
    mutating func fill(from source: inout ByteBuffer, upTo size: Int) -> Bool {
        var slice = source.readSlice(length: min(source.readableBytes, size - readableBytes))!
        writeBuffer(&slice)
        return readableBytes == size
    }
}
