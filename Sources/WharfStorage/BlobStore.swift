import Foundation
import NIOCore
import WharfCore

/// Content-addressed blob storage plus the staging area where uploads are assembled.
///
/// A blob is stored once per digest whatever the number of repositories that link them; which
/// repository may see which blob is the metadata store's business, not this one's.
public protocol BlobStore: Sendable {
    /// The stored size of the blob, or nil when it is not stored.
    func size(of digest: Digest) async throws -> Int64?

    /// Streams `range` (the whole blob when nil) of the blob, chunk by chunk, to `consume`.
    func read(_ digest: Digest, range: Range<Int64>?,
              into consume: (ByteBuffer) async throws -> Void) async throws

    /// Removes the blob's bytes (garbage collection only: a repository DELETE unlinks in metadata).
    func delete(_ digest: Digest) async throws

    /// Every stored blob with its size and last modification (garbage collection's sweep for
    /// bytes the database does not know).
    func storedBlobs() async throws -> [(digest: Digest, size: Int64, modified: Date)]

    /// Creates an empty staging area for upload `id`.
    func createUpload(_ id: String) async throws

    /// Opens upload `id` for appending at `offset`, discarding any bytes past it.
    func appendToUpload(_ id: String, at offset: Int64) async throws -> any UploadWriter

    /// Streams the staged bytes of upload `id` in `range` to `consume` (to resume hashing).
    func readUpload(_ id: String, range: Range<Int64>,
                    into consume: (ByteBuffer) async throws -> Void) async throws

    /// Makes the staged bytes of upload `id` durable and stores them as `digest`.
    /// The caller has verified the digest; if the blob is already stored the staged copy is dropped.
    func commitUpload(_ id: String, as digest: Digest) async throws

    /// Deletes the staged bytes of upload `id`, if any.
    func deleteUpload(_ id: String) async throws

    /// Ids of every staged upload, with its last modification (seconds since 1970).
    func stagedUploads() async throws -> [(id: String, modified: Double)]

    /// Whether the backend can be read and written now.
    func checkHealth() async throws

    /// A URL the client may fetch the blob from directly, valid `expires` seconds; nil when the
    /// backend cannot hand one out.
    func redirectURL(for digest: Digest, expires: Int) -> String?
}

/// `BlobStore` over any `StorageDriver`: a blob of digest `algorithm:hex` is the object
/// `blobs/<algorithm>/<first two hex>/<hex>`; uploads are the driver's uploads.
public struct ContentAddressedBlobStore: BlobStore {
    public let driver: any StorageDriver

    public init(driver: any StorageDriver) {
        self.driver = driver
    }

    /// The default store: a folder, written with direct I/O where the filesystem allows it.
    public static func fileSystem(root: String, directIO: Bool = true) throws -> ContentAddressedBlobStore {
        ContentAddressedBlobStore(driver: try FileSystemDriver(root: root, directIO: directIO))
    }

    /// The object key of `digest`.
    public static func key(of digest: Digest) -> String {
        "blobs/\(digest.algorithm.rawValue)/\(digest.encoded.prefix(2))/\(digest.encoded)"
    }

    public func size(of digest: Digest) async throws -> Int64? {
        try await driver.size(of: Self.key(of: digest))
    }

    public func read(_ digest: Digest, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await driver.read(Self.key(of: digest), range: range, into: consume)
    }

    public func delete(_ digest: Digest) async throws {
        try await driver.delete(Self.key(of: digest))
    }

    public func storedBlobs() async throws -> [(digest: Digest, size: Int64, modified: Date)] {
        try await driver.list(prefix: "blobs/").compactMap { object in
            // blobs/<algorithm>/<two hex>/<hex>
            let parts = object.key.split(separator: "/")
            guard parts.count == 4, let digest = Digest("\(parts[1]):\(parts[3])"), object.key == Self.key(of: digest) else { return nil }
            return (digest, object.size, object.modified)
        }
    }

    public func createUpload(_ id: String) async throws {
        try await driver.startUpload(id)
    }

    public func appendToUpload(_ id: String, at offset: Int64) async throws -> any UploadWriter {
        try await driver.appendPart(to: id, at: offset)
    }

    public func readUpload(_ id: String, range: Range<Int64>, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await driver.readUpload(id, range: range, into: consume)
    }

    public func commitUpload(_ id: String, as digest: Digest) async throws {
        let key = Self.key(of: digest)
        // Content-addressed: bytes already stored under this digest are these bytes.
        if try await driver.size(of: key) != nil {
            try await driver.abortUpload(id)
        } else {
            try await driver.completeUpload(id, as: key)
        }
    }

    public func deleteUpload(_ id: String) async throws {
        try await driver.abortUpload(id)
    }

    public func stagedUploads() async throws -> [(id: String, modified: Double)] {
        try await driver.uploads().map { ($0.id, $0.modified.timeIntervalSince1970) }
    }

    public func checkHealth() async throws {
        try await driver.checkHealth()
    }

    public func redirectURL(for digest: Digest, expires: Int) -> String? {
        driver.presignedURL(for: Self.key(of: digest), expires: expires)
    }

    /// The store a `--storage` value names: `file:PATH` (or nil: `data-dir`), or `s3://bucket/prefix?…`.
    public static func open(_ location: String?, dataDirectory: String, environment: [String: String]) throws -> ContentAddressedBlobStore {
        guard let location, !location.isEmpty else { return try fileSystem(root: dataDirectory) }
        if location.hasPrefix("s3://") {
            return ContentAddressedBlobStore(driver: S3Driver(location: try S3Location(url: location, environment: environment)))
        }
        if location.hasPrefix("file:") { return try fileSystem(root: String(location.dropFirst("file:".count))) }
        throw S3Error.configuration("storage must be file:PATH or s3://bucket/prefix?endpoint=…&region=…")
    }
}
