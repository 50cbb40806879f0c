import Foundation
import SQLKit
import WharfCore

/// `GarbageStore` over the registry's tables.
///
/// The races with pushes are closed by row locks: a link upserts the blob's row and a manifest
/// push updates the rows of the manifests and links it uses, so a collector's delete either
/// commits first (and the push then fails its re-check and says so) or waits for the push and
/// re-evaluates its condition on the updated row (PostgreSQL) — SQLite runs one writer at a time.
struct SQLGarbageStore: GarbageStore {
    let access: any SQLDatabaseAccess

    private var db: any SQLDatabase { access.reader }

    /// The condition that makes a row of `manifests` (not aliased: SQLite's DELETE takes no alias) collectable.
    private static func collectable(cutoff: Double) -> SQLQueryString {
        """
        manifests.untagged_since IS NOT NULL AND manifests.untagged_since <= \(bind: cutoff)
        AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = manifests.repository AND t.manifest = manifests.digest)
        AND NOT EXISTS (SELECT 1 FROM manifest_references r
                        WHERE r.repository = manifests.repository AND r.digest = manifests.digest AND r.kind = 'manifest')
        AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository = manifests.repository AND s.subject = manifests.digest)
        AND (manifests.subject IS NULL OR NOT EXISTS (
            SELECT 1 FROM manifests p WHERE p.repository = manifests.repository AND p.digest = manifests.subject))
        """
    }

    func collectableManifests(untaggedBefore cutoff: Date, after: ManifestKey?, limit: Int) async throws -> [ManifestKey] {
        try await page("manifests", where: Self.collectable(cutoff: cutoff.timeIntervalSince1970), after: after, limit: limit)
    }

    func deleteCollectableManifests(_ keys: [ManifestKey], untaggedBefore cutoff: Date) async throws -> [ManifestKey] {
        try await delete(keys, from: "manifests", where: Self.collectable(cutoff: cutoff.timeIntervalSince1970))
    }

    /// The condition that makes a row of `repository_blobs` collectable.
    private static func unreferenced(cutoff: Double) -> SQLQueryString {
        """
        repository_blobs.created_at <= \(bind: cutoff)
        AND NOT EXISTS (SELECT 1 FROM manifest_references r
                        WHERE r.repository = repository_blobs.repository AND r.digest = repository_blobs.digest AND r.kind = 'blob')
        """
    }

    func unreferencedLinks(linkedBefore cutoff: Date, after: BlobLink?, limit: Int) async throws -> [BlobLink] {
        try await page("repository_blobs", where: Self.unreferenced(cutoff: cutoff.timeIntervalSince1970), after: after, limit: limit)
    }

    func deleteUnreferencedLinks(_ links: [BlobLink], linkedBefore cutoff: Date) async throws -> [BlobLink] {
        try await delete(links, from: "repository_blobs", where: Self.unreferenced(cutoff: cutoff.timeIntervalSince1970))
    }

    /// Rows (repository, digest) of `table` meeting `condition`, in order after `after`, at most `limit`.
    private func page(_ table: String, where condition: SQLQueryString, after: RepositoryDigest?, limit: Int) async throws -> [RepositoryDigest] {
        let (repository, digest) = (after?.repository.value ?? "", after?.digest.description ?? "")
        return try await db.raw("""
            SELECT repository, digest FROM \(unsafeRaw: table) WHERE \(condition)
            AND (repository > \(bind: repository) OR (repository = \(bind: repository) AND digest > \(bind: digest)))
            ORDER BY repository, digest LIMIT \(bind: limit)
            """).all().compactMap { row in
                guard let repository = RepositoryName(try row.decode(column: "repository", as: String.self)),
                      let digest = Digest(try row.decode(column: "digest", as: String.self)) else { return nil }
                return RepositoryDigest(repository: repository, digest: digest)
            }
    }

    /// Deletes, in one transaction, the rows of `table` for `keys` that still meet `condition`; returns them.
    private func delete(_ keys: [RepositoryDigest], from table: String, where condition: SQLQueryString) async throws -> [RepositoryDigest] {
        guard !keys.isEmpty else { return [] }
        return try await access.transaction { db in
            var deleted: [RepositoryDigest] = []
            for key in keys {
                let rows = try await db.raw("""
                    DELETE FROM \(unsafeRaw: table)
                    WHERE repository = \(bind: key.repository.value) AND digest = \(bind: key.digest.description) AND \(condition)
                    RETURNING digest
                    """).all()
                if !rows.isEmpty { deleted.append(key) }
            }
            return deleted
        }
    }

    /// Nothing links or uploads the row of `blobs`.
    private static let unused: SQLQueryString = """
        NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest)
        AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.digest = blobs.digest)
        """

    func markOrphans(at now: Date) async throws {
        try await access.transaction { db in
            try await db.raw("""
                UPDATE blobs SET orphaned_at = \(bind: now.timeIntervalSince1970)
                WHERE orphaned_at IS NULL AND deleting_at IS NULL AND \(Self.unused)
                """).run()
        }
    }

    func orphanedBlobs(before cutoff: Date, after: Digest?, limit: Int) async throws -> [StoredBlob] {
        try await db.raw("""
            SELECT digest, size FROM blobs
            WHERE deleting_at IS NULL AND orphaned_at IS NOT NULL AND orphaned_at <= \(bind: cutoff.timeIntervalSince1970)
            AND \(Self.unused) AND digest > \(bind: after?.description ?? "")
            ORDER BY digest LIMIT \(bind: limit)
            """).all().compactMap(Self.storedBlob)
    }

    func claimBlobs(_ digests: [Digest], orphanedBefore cutoff: Date, at now: Date) async throws -> [StoredBlob] {
        guard !digests.isEmpty else { return [] }
        let flavor = access.flavor
        return try await access.transaction { db in
            let names = digests.map(\.description)
            if flavor == .postgres {
                // Wait for links in flight; the claim below then sees them (a new statement, a new snapshot).
                try await db.raw("SELECT digest FROM blobs WHERE digest IN (\(binds: names)) ORDER BY digest FOR UPDATE").run()
            }
            return try await db.raw("""
                UPDATE blobs SET deleting_at = \(bind: now.timeIntervalSince1970)
                WHERE digest IN (\(binds: names)) AND deleting_at IS NULL
                AND orphaned_at IS NOT NULL AND orphaned_at <= \(bind: cutoff.timeIntervalSince1970) AND \(Self.unused)
                RETURNING digest, size
                """).all().compactMap(Self.storedBlob)
        }
    }

    func claimUnknownBlob(_ blob: StoredBlob, at now: Date) async throws -> Bool {
        let time = now.timeIntervalSince1970
        return try await access.transaction { db in
            try await !db.raw("""
                INSERT INTO blobs (digest, size, created_at, orphaned_at, deleting_at)
                VALUES (\(bind: blob.digest.description), \(bind: blob.size), \(bind: time), \(bind: time), \(bind: time))
                ON CONFLICT (digest) DO NOTHING
                RETURNING digest
                """).all().isEmpty
        }
    }

    func knownBlobs(_ digests: [Digest]) async throws -> Set<Digest> {
        guard !digests.isEmpty else { return [] }
        return Set(try await db.raw("SELECT digest FROM blobs WHERE digest IN (\(binds: digests.map(\.description)))")
            .all().compactMap { Digest(try $0.decode(column: "digest", as: String.self)) })
    }

    func abandonedClaims(before cutoff: Date) async throws -> [StoredBlob] {
        try await db.raw("""
            SELECT digest, size FROM blobs WHERE deleting_at IS NOT NULL AND deleting_at < \(bind: cutoff.timeIntervalSince1970)
            ORDER BY digest
            """).all().compactMap(Self.storedBlob)
    }

    func forgetBlobs(_ digests: [Digest]) async throws {
        guard !digests.isEmpty else { return }
        let names = digests.map(\.description)
        try await access.transaction { db in
            try await db.raw("DELETE FROM blobs WHERE digest IN (\(binds: names)) AND deleting_at IS NOT NULL").run()
            try await db.raw("""
                DELETE FROM image_configs WHERE digest IN (\(binds: names))
                AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = image_configs.digest)
                """).run()
        }
    }

    private static func storedBlob(_ row: any SQLRow) throws -> StoredBlob? {
        guard let digest = Digest(try row.decode(column: "digest", as: String.self)) else { return nil }
        return StoredBlob(digest: digest, size: try row.decode(column: "size", as: Int64.self))
    }
}
