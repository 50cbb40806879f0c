import Foundation
import Logging
import NIOCore
import WharfCore
import WharfMetadata
import WharfStorage

/// The registry's domain operations (OCI Distribution), independent of HTTP.
///
/// Repositories see blobs only through their links in the metadata store; blob bytes live once
/// in the blob store. Every failure a client can cause is thrown as a `RegistryError`.
public struct Registry: Sendable {
    public let metadata: any MetadataStore
    public let blobs: any BlobStore
    let hashes = UploadHashCache()

    public init(metadata: any MetadataStore, blobs: any BlobStore) {
        self.metadata = metadata
        self.blobs = blobs
    }

    // MARK: Blobs

    /// The size of a blob the repository links.
    func blobSize(_ digest: Digest, in repository: RepositoryName) async throws -> Int64 {
        guard let size = try await metadata.linkedBlobSize(digest, in: repository) else {
            throw RegistryError.blobUnknown(digest)
        }
        return size
    }

    /// Unlinks a blob from the repository (its bytes stay until garbage collection).
    func deleteBlob(_ digest: Digest, in repository: RepositoryName) async throws {
        guard try await metadata.unlinkBlob(digest, from: repository) else {
            throw RegistryError.blobUnknown(digest)
        }
    }

    /// Links a blob the source repository has into `repository`; false when the source lacks it.
    func mount(_ digest: Digest, from source: RepositoryName, into repository: RepositoryName) async throws -> Bool {
        guard let size = try await metadata.linkedBlobSize(digest, in: source) else { return false }
        try await metadata.linkBlob(digest, size: size, into: repository)
        return true
    }
}
