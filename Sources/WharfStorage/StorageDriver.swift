import Foundation
import NIOCore

/// The dumb storage seam under the content-addressed blob store: named objects (keys are
/// `/`-separated paths) and resumable uploads whose parts are concatenated into an object at
/// commit. The filesystem implements it today; an S3 driver implements the same methods, and
/// every driver passes the one shared test suite (`StorageDriverConformance` in the tests).
public protocol StorageDriver: Sendable {
    /// The size of the object at `key`, nil when there is none.
    func size(of key: String) async throws -> Int64?
    /// Streams `range` (all when nil) of the object at `key` to `consume`, piece by piece.
    func read(_ key: String, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws
    /// Stores the object at `key` from a stream; durable and visible whole, or not at all.
    func put<Body: AsyncSequence & Sendable>(_ key: String, from body: Body) async throws where Body.Element == ByteBuffer
    /// Removes the object at `key`, if any.
    func delete(_ key: String) async throws
    /// Objects whose key starts with `prefix`, in key order.
    func list(prefix: String) async throws -> [StoredObject]

    /// Starts an empty upload `id`.
    func startUpload(_ id: String) async throws
    /// Opens a part of upload `id` starting at `offset` (the bytes received so far); bytes past
    /// `offset` from an earlier part that failed half-way are discarded.
    func appendPart(to id: String, at offset: Int64) async throws -> any UploadWriter
    /// Streams `range` of the bytes upload `id` holds so far (to resume hashing).
    func readUpload(_ id: String, range: Range<Int64>, into consume: (ByteBuffer) async throws -> Void) async throws
    /// Makes the upload's bytes the object at `key`, durably, and ends the upload.
    func completeUpload(_ id: String, as key: String) async throws
    /// Ends the upload and discards its bytes, if any.
    func abortUpload(_ id: String) async throws
    /// Every upload in progress, with when it last changed.
    func uploads() async throws -> [(id: String, modified: Date)]

    /// Whether the backend can be read and written now.
    func checkHealth() async throws

    /// A URL clients may fetch the object from directly for `expires` seconds; nil when the
    /// backend has none (the filesystem).
    func presignedURL(for key: String, expires: Int) -> String?
}

extension StorageDriver {
    public func presignedURL(for key: String, expires: Int) -> String? { nil }
}

/// An object a driver lists.
public struct StoredObject: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var modified: Date

    public init(key: String, size: Int64, modified: Date) {
        self.key = key
        self.size = size
        self.modified = modified
    }
}

/// Appends bytes to one part of an upload.
public protocol UploadWriter: AnyObject, Sendable {
    /// Appends `buffer`.
    func write(_ buffer: ByteBuffer) async throws
    /// Flushes and closes; returns the upload's total size so far.
    func close() async throws -> Int64
}
