import Foundation
import NIOCore
import WharfCore
import WharfMetadata
import WharfStorage

extension Registry {
    /// Opens a new upload session in the repository.
    public func startUpload(in repository: RepositoryName) async throws -> UploadSession {
        try await StorageQuota.checkRoomLeft(in: repository, stores: stores)
        let now = stores.clock.now
        let session = UploadSession(id: UUID().uuidString.lowercased(), repository: repository, createdAt: now, updatedAt: now)
        try await blobs.createUpload(session.id)
        try await metadata.createUpload(session)
        return session
    }

    /// The upload `id`, which must belong to `repository`.
    public func upload(_ id: String, in repository: RepositoryName) async throws -> UploadSession {
        guard let session = try await metadata.upload(id), session.repository == repository else {
            throw RegistryError.uploadUnknown(id)
        }
        return session
    }

    /// Appends a streamed chunk to the upload.
    ///
    /// - Parameters:
    ///   - range: the `Content-Range` the client sent, if any; its start must be the current size.
    ///   - body: the chunk, hashed and written as it arrives.
    public func appendUpload(_ id: String, in repository: RepositoryName, range: ClosedRange<Int64>?,
                      body: some AsyncSequence<ByteBuffer, any Error>) async throws -> UploadSession {
        var session = try await upload(id, in: repository)
        if let range, range.lowerBound != session.size {
            throw RegistryError.uploadRangeMismatch(session, repository: repository)
        }
        let (written, hasher) = try await write(body, to: session)
        if let range, Int64(range.count) != written {
            throw RegistryError(.sizeInvalid, "Content-Range covers \(range.count) bytes but the body had \(written)")
        }
        session.size += written
        if let hasher { session.stagedDigest = hasher.finalize() }
        session.updatedAt = stores.clock.now
        try await metadata.updateUpload(id, size: session.size, stagedDigest: session.stagedDigest, at: session.updatedAt)
        if let hasher { hashes.store(id, at: session.size, hasher: hasher) }
        return session
    }

    /// Completes the upload with an optional last chunk; the blob is stored only if it hashes to `digest`.
    public func finishUpload(_ id: String, in repository: RepositoryName, digest: Digest, by actor: String?,
                             lastChunk: (some AsyncSequence<ByteBuffer, any Error>)?) async throws -> Int64 {
        var session = try await upload(id, in: repository)
        var hasher: DigestHasher?
        if let lastChunk {
            let (written, chunkHasher) = try await write(lastChunk, to: session, algorithm: digest.algorithm)
            session.size += written
            hasher = chunkHasher
        } else {
            // Bytes a failed chunk left past the recorded size are not part of the blob.
            _ = try await blobs.appendToUpload(session.id, at: session.size).close()
        }
        let computed = try await stagedDigest(of: session, hasher: hasher, algorithm: digest.algorithm)
        guard computed == digest else {
            try await cancelUpload(id, in: repository)
            throw RegistryError(.digestInvalid, "the uploaded content has digest \(computed), not \(digest)",
                                detail: ["expected": digest.description, "actual": computed.description])
        }
        let size = session.size
        try await reserve(digest, size: size, forUpload: id)
        try await blobs.commitUpload(id, as: digest)
        do {
            try await commit(into: repository, by: actor) { tx in
                try await StorageQuota.admit(digest, size: size, into: repository, tx: tx)
                try await tx.metadata.completeUpload(id, digest: digest, size: size)
            }
        } catch StoreError.notFound {
            throw RegistryError.uploadUnknown(id)
        } catch let error as RegistryError where error.code == .denied {
            // Over quota: the session ends, and the bytes are garbage once no upload pins them.
            try? await cancelUpload(id, in: repository)
            throw error
        }
        hashes.remove(id)
        return session.size
    }

    /// Pins `digest` to the upload before its bytes are stored, waiting while garbage collection
    /// finishes deleting an earlier copy of the same blob (a matter of one object deletion).
    private func reserve(_ digest: Digest, size: Int64, forUpload id: String) async throws {
        let deadline = stores.clock.now.addingTimeInterval(60)
        while true {
            switch try await metadata.reserveBlob(digest, size: size, forUpload: id) {
            case .reserved: return
            case .uploadUnknown: throw RegistryError.uploadUnknown(id)
            case .beingDeleted:
                guard stores.clock.now < deadline else {
                    throw RegistryError(.unavailable, "the blob is being garbage collected; retry the upload", detail: ["digest": digest.description])
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Stores a whole blob sent in one request (`POST ?digest=` or a fresh session's `PUT`).
    public func uploadMonolithic(into repository: RepositoryName, digest: Digest, by actor: String?,
                                 body: some AsyncSequence<ByteBuffer, any Error>) async throws -> Int64 {
        let session = try await startUpload(in: repository)
        do {
            return try await finishUpload(session.id, in: repository, digest: digest, by: actor, lastChunk: body)
        } catch {
            _ = try? await metadata.deleteUpload(session.id)
            try? await blobs.deleteUpload(session.id)
            hashes.remove(session.id)
            throw error
        }
    }

    /// Abandons the upload and discards its bytes.
    public func cancelUpload(_ id: String, in repository: RepositoryName) async throws {
        _ = try await upload(id, in: repository)
        hashes.remove(id)
        _ = try await metadata.deleteUpload(id)
        try await blobs.deleteUpload(id)
    }

    /// Ends every upload idle since before `cutoff` and reclaims its bytes and hash state, along
    /// with staged bytes no session owns (left by a crash). Returns the sessions that expired.
    public func expireUploads(idleSince cutoff: Date) async throws -> [UploadSession] {
        var expired: [UploadSession] = []
        for session in try await metadata.uploads(idleSince: cutoff) where try await metadata.deleteUpload(session.id) {
            hashes.remove(session.id)
            try await blobs.deleteUpload(session.id)
            expired.append(session)
        }
        for staged in try await blobs.stagedUploads() where staged.modified < cutoff.timeIntervalSince1970 {
            if try await metadata.upload(staged.id) == nil {
                hashes.remove(staged.id)
                try await blobs.deleteUpload(staged.id)
            }
        }
        return expired
    }

    /// Streams `body` to the end of the staged upload, hashing as it goes; returns the bytes written
    /// and the hash of the upload so far (nil when the body was empty: then nothing was hashed).
    /// On failure the staged size recorded in metadata is unchanged, so the partial chunk is discarded.
    private func write(_ body: some AsyncSequence<ByteBuffer, any Error>, to session: UploadSession,
                       algorithm: Digest.Algorithm = .sha256) async throws -> (written: Int64, hasher: DigestHasher?) {
        var hasher: DigestHasher?
        let writer = try await blobs.appendToUpload(session.id, at: session.size)
        var written: Int64 = 0
        do {
            for try await buffer in body where buffer.readableBytes > 0 {
                if hasher == nil { hasher = try await self.hasher(for: session, algorithm: algorithm) }
                buffer.withUnsafeReadableBytes { hasher!.update($0) }
                try await writer.write(buffer)
                written += Int64(buffer.readableBytes)
            }
            _ = try await writer.close()
        } catch {
            _ = try? await writer.close()
            throw RegistryError(.blobUploadInvalid, "the upload body ended early or could not be stored",
                                detail: ["uuid": session.id])
        }
        return (written, hasher)
    }

    /// The digest of the upload's staged bytes: from `hasher` (the last chunk's), the digest the
    /// session recorded with its size (whichever replica received the bytes), or by hashing them.
    private func stagedDigest(of session: UploadSession, hasher: DigestHasher?, algorithm: Digest.Algorithm) async throws -> Digest {
        if let hasher { return hasher.finalize() }
        if let recorded = session.stagedDigest, recorded.algorithm == algorithm { return recorded }
        return try await self.hasher(for: session, algorithm: algorithm).finalize()
    }

    /// The hash of the upload's staged bytes so far: the cached state, brought up to date by
    /// re-reading the bytes it has not seen (all of them when there is none). Kept in the cache
    /// for a retry if the chunk that needs it fails.
    private func hasher(for session: UploadSession, algorithm: Digest.Algorithm) async throws -> DigestHasher {
        var (hashed, hasher) = hashes.take(session.id, upTo: session.size, algorithm: algorithm) ?? (0, DigestHasher(algorithm))
        if hashed < session.size {
            try await blobs.readUpload(session.id, range: hashed..<session.size) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update($0) }
            }
        }
        hashes.store(session.id, at: session.size, hasher: hasher)
        return hasher
    }
}

extension RegistryError {
    /// A chunk that does not start where the upload ends: 416 with the current range, so the client can resume.
    static func uploadRangeMismatch(_ session: UploadSession, repository: RepositoryName) -> RegistryError {
        RegistryError(
            .rangeInvalid, "chunk does not start at the end of the upload (\(session.size) bytes received)",
            detail: ["uuid": session.id],
            headers: UploadHeaders.of(session, repository: repository)
        )
    }
}

/// The headers Distribution sends for an upload in progress.
public enum UploadHeaders {
    public static func of(_ session: UploadSession, repository: RepositoryName) -> [String: String] {
        [
            "Location": "/v2/\(repository.value)/blobs/uploads/\(session.id)",
            "Range": "0-\(max(session.size - 1, 0))",
            "Docker-Upload-UUID": session.id,
        ]
    }
}
