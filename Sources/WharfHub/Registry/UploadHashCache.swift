import Foundation
import WharfCore

/// Hash state of uploads in progress, so that each PATCH continues hashing where the last stopped.
///
/// The cache is only an optimisation: when it has no state for an upload (after a restart, on
/// another replica, or after the entry left the cache) the registry re-reads the staged bytes to
/// rebuild it; when its state is behind (chunks went to another replica since), it re-reads only
/// the bytes after it. A state is kept only for bytes the upload's session recorded as received,
/// which never change after. Entries leave with their upload (completed, cancelled or expired) and, at the
/// latest, when the upload would have expired.
final class UploadHashCache: Sendable {
    private struct Entry: Sendable {
        var offset: Int64
        var hasher: DigestHasher
    }

    private let entries: BoundedCache<String, Entry>

    init(lifetime: TimeInterval = 24 * 3600, capacity: Int = 10_000, clock: any WallClock = SystemClock()) {
        entries = BoundedCache(budget: capacity, lifetime: lifetime, clock: clock)
    }

    /// Takes the hasher of upload `id` if it has hashed at most `offset` bytes with `algorithm`,
    /// with the number of bytes it has hashed.
    func take(_ id: String, upTo offset: Int64, algorithm: Digest.Algorithm) -> (offset: Int64, hasher: DigestHasher)? {
        guard let entry = entries.remove(id), entry.offset <= offset, entry.hasher.algorithm == algorithm else { return nil }
        return (entry.offset, entry.hasher)
    }

    /// Remembers the hasher of upload `id` after `offset` bytes.
    func store(_ id: String, at offset: Int64, hasher: DigestHasher) {
        entries.store(Entry(offset: offset, hasher: hasher), for: id)
    }

    func remove(_ id: String) {
        entries.remove(id)
    }

    /// Uploads with a hash state kept.
    var count: Int { entries.count }
}
