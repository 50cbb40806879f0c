import Foundation
import WharfCore

/// Copies blobs from one store to another (a folder to S3, say), each through the target's
/// upload path: streamed, never whole in memory, and visible only once complete.
public enum BlobTransfer {
    /// Copies each digest the target does not have yet; returns how many were copied.
    @discardableResult
    public static func copy(_ digests: [Digest], from source: any BlobStore, to target: any BlobStore) async throws -> Int {
        var copied = 0
        for digest in digests {
            guard try await target.size(of: digest) == nil else { continue }
            guard try await source.size(of: digest) != nil else { throw BlobTransferError.missing(digest) }
            let id = "transfer-\(UUID().uuidString.lowercased())"
            try await target.createUpload(id)
            do {
                let writer = try await target.appendToUpload(id, at: 0)
                do {
                    try await source.read(digest, range: nil) { try await writer.write($0) }
                    _ = try await writer.close()
                } catch {
                    _ = try? await writer.close()
                    throw error
                }
                try await target.commitUpload(id, as: digest)
            } catch {
                try? await target.deleteUpload(id)
                throw error
            }
            copied += 1
        }
        return copied
    }
}

/// A blob the metadata names but the source store lacks.
public enum BlobTransferError: Error, CustomStringConvertible {
    case missing(Digest)

    public var description: String {
        switch self {
        case .missing(let digest): "the source store has no bytes for \(digest)"
        }
    }
}
