import NIOCore
import WharfCore

/// Content-addressed blob storage plus the staging area where uploads are assembled.
///
/// A blob is stored once per digest whatever the number of repositories that link it; which
/// repository may see which blob is the metadata store's business, not this one's.
public protocol BlobStore: Sendable {
    /// The stored size of the blob, or nil when it is not stored.
    func size(of digest: Digest) async throws -> Int64?

    /// Streams `range` (the whole blob when nil) of the blob, chunk by chunk, to `consume`.
    func read(_ digest: Digest, range: Range<Int64>?,
              into consume: (ByteBuffer) async throws -> Void) async throws

    /// Removes the blob's bytes (garbage collection only: a repository DELETE unlinks in metadata).
    func delete(_ digest: Digest) async throws

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
}

/// Appends bytes to a staged upload.
public protocol UploadWriter: AnyObject, Sendable {
    /// Appends `buffer`.
    func write(_ buffer: ByteBuffer) async throws
    /// Flushes and closes; returns the total staged size.
    func close() async throws -> Int64
}
