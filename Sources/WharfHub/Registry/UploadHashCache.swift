import Synchronization
import WharfCore

/// Hash state of uploads in progress, so that each PATCH continues hashing where the last stopped.
///
/// The cache is only an optimisation: when it has no state for an upload (after a restart, or on
/// another replica) the registry re-reads the staged bytes to rebuild it.
final class UploadHashCache: Sendable {
    private struct Entry {
        var offset: Int64
        var hasher: DigestHasher
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Takes the hasher of upload `id` if it has hashed exactly `offset` bytes with `algorithm`.
    func take(_ id: String, at offset: Int64, algorithm: Digest.Algorithm) -> DigestHasher? {
        entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: id), entry.offset == offset,
                  entry.hasher.algorithm == algorithm else { return nil }
            return entry.hasher
        }
    }

    /// Remembers the hasher of upload `id` after `offset` bytes.
    func store(_ id: String, at offset: Int64, hasher: DigestHasher) {
        entries.withLock { $0[id] = Entry(offset: offset, hasher: hasher) }
    }

    func remove(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
