import Foundation
import Logging
import ServiceLifecycle
import WharfMetadata
import WharfStorage

/// Expires upload sessions idle for longer than the configured time and reclaims their bytes,
/// along with staged bytes that no session owns (left by a crash). Stops on graceful shutdown.
public struct UploadJanitor: Service {
    let metadata: any MetadataStore
    let blobs: any BlobStore
    let expiry: Double
    let interval: Double
    let logger: Logger

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweep(now: Date())
            } catch {
                logger.error("upload janitor sweep failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
        }
    }

    /// Removes expired sessions and orphaned staged bytes.
    func sweep(now: Date) async throws {
        let cutoff = now.addingTimeInterval(-expiry)
        for session in try await metadata.uploads(idleSince: cutoff) {
            if try await metadata.deleteUpload(session.id) {
                try await blobs.deleteUpload(session.id)
                logger.info("upload expired", metadata: ["wharf.upload": "\(session.id)", "wharf.repository": "\(session.repository)"])
            }
        }
        for staged in try await blobs.stagedUploads() where staged.modified < cutoff.timeIntervalSince1970 {
            if try await metadata.upload(staged.id) == nil {
                try await blobs.deleteUpload(staged.id)
            }
        }
    }
}
