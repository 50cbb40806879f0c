import Foundation
import SQLKit
import WharfCore

/// `MetadataStore` over any SQL database SQLKit speaks (SQLite by default, PostgreSQL later).
public struct SQLMetadataStore: MetadataStore {
    let access: any SQLDatabaseAccess
    let clock: any WallClock

    /// The store over `access`, whose schema `Migrations.run` has brought up to date.
    init(access: any SQLDatabaseAccess, clock: any WallClock) {
        self.access = access
        self.clock = clock
    }

    var db: any SQLDatabase { access.reader }
    private var now: Double { clock.now.timeIntervalSince1970 }

    public func checkHealth() async throws {
        _ = try await db.raw("SELECT 1 AS ok").all()
    }

    // MARK: Repositories

    // MARK: Blobs

    public func linkedBlobSize(_ digest: Digest, in repository: RepositoryName) async throws -> Int64? {
        try await db.raw("""
            SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
            WHERE rb.repository = \(bind: repository.value) AND rb.digest = \(bind: digest.description)
            """).first()?.decode(column: "size", as: Int64.self)
    }

    public func linkedBlobs(_ digests: [Digest], in repository: RepositoryName) async throws -> Set<Digest> {
        guard !digests.isEmpty else { return [] }
        let rows = try await db.raw("""
            SELECT digest FROM repository_blobs WHERE repository = \(bind: repository.value)
            AND digest IN (\(binds: digests.map(\.description)))
            """).all()
        return Set(try rows.compactMap { Digest(try $0.decode(column: "digest", as: String.self)) })
    }

    public func linkBlob(_ digest: Digest, size: Int64, into repository: RepositoryName) async throws {
        let now = self.now
        try await access.transaction { db in
            try await Self.link(digest, size: size, into: repository, at: now, in: db)
        }
    }

    private static func link(_ digest: Digest, size: Int64, into repository: RepositoryName, at now: Double, in db: any SQLDatabase) async throws {
        try await ensureRepository(repository, at: Date(timeIntervalSince1970: now), in: db)
        guard try await upsertBlob(digest, size: size, at: now, in: db) == nil else { throw StoreError.blobBeingDeleted }
        try await db.raw("""
            INSERT INTO repository_blobs (repository, digest, created_at)
            VALUES (\(bind: repository.value), \(bind: digest.description), \(bind: now))
            ON CONFLICT (repository, digest) DO NOTHING
            """).run()
    }

    /// Records the blob (or marks it linked again) and returns when garbage collection claimed it
    /// for deletion, nil when it did not. Takes the blob's row lock: a collector's claim and a link
    /// never interleave.
    static func upsertBlob(_ digest: Digest, size: Int64, at now: Double, in db: any SQLDatabase) async throws -> Double? {
        try await db.raw("""
            INSERT INTO blobs (digest, size, created_at) VALUES (\(bind: digest.description), \(bind: size), \(bind: now))
            ON CONFLICT (digest) DO UPDATE SET orphaned_at = NULL
            RETURNING deleting_at
            """).first()?.decode(column: "deleting_at", as: Double?.self)
    }

    public func reserveBlob(_ digest: Digest, size: Int64, forUpload id: String) async throws -> BlobReservation {
        let now = self.now
        // Visible at once (what a collector must see); durable with the upload's completion right after,
        // and a crash before that loses the upload anyway: no fsync of its own.
        return try await access.transaction(.relaxed) { db in
            guard try await db.raw("SELECT 1 AS ok FROM uploads WHERE id = \(bind: id)").first() != nil else { return .uploadUnknown }
            if let claimed = try await Self.upsertBlob(digest, size: size, at: now, in: db) {
                // A claim this old outlived any collector: it died between claiming and forgetting.
                guard claimed < now - BlobReservation.abandonedClaimAge else { return .beingDeleted }
                try await db.raw("UPDATE blobs SET deleting_at = NULL WHERE digest = \(bind: digest.description)").run()
            }
            try await db.raw("UPDATE uploads SET digest = \(bind: digest.description) WHERE id = \(bind: id)").run()
            return .reserved
        }
    }

    public func unlinkBlob(_ digest: Digest, from repository: RepositoryName) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM repository_blobs WHERE repository = \(bind: repository.value) AND digest = \(bind: digest.description)",
            change: "DELETE FROM repository_blobs WHERE repository = \(bind: repository.value) AND digest = \(bind: digest.description)"
        )
    }

    // MARK: Manifests and tags

    public func putManifest(_ manifest: StoredManifest, tag: Tag?, in repository: RepositoryName, pushedBy pusher: String?) async throws {
        let annotations = try manifest.annotations.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let now = self.now
        try await access.transaction { db in
            try await Self.ensureRepository(repository, at: Date(timeIntervalSince1970: now), in: db)
            try await Self.touchReferences(of: manifest, in: repository, at: now, in: db)
            var replaced: Digest?
            if let tag { replaced = try await Self.taggedDigest(tag, in: repository, in: db) }
            try await db.raw("""
                INSERT INTO manifests (repository, digest, media_type, artifact_type, subject, annotations, content, created_at, untagged_since)
                VALUES (\(bind: repository.value), \(bind: manifest.digest.description), \(bind: manifest.mediaType),
                        \(bind: manifest.artifactType), \(bind: manifest.subject?.description), \(bind: annotations),
                        \(bind: Data(manifest.content)), \(bind: manifest.createdAt.timeIntervalSince1970), \(bind: now))
                ON CONFLICT (repository, digest) DO UPDATE SET untagged_since = NULL
                """).run()  // Updating takes the row's lock: a collector deleting it now either went first (this inserts it anew) or keeps it.
            let references = manifest.blobReferences.map { ($0, "blob") } + manifest.manifestReferences.map { ($0, "manifest") }
            for (digest, kind) in references {
                try await db.raw("""
                    INSERT INTO manifest_references (repository, manifest, digest, kind)
                    VALUES (\(bind: repository.value), \(bind: manifest.digest.description), \(bind: digest.description), \(bind: kind))
                    ON CONFLICT (repository, manifest, digest) DO NOTHING
                    """).run()
            }
            if let tag {
                try await db.raw("""
                    INSERT INTO tags (repository, name, manifest, updated_at, pushed_by)
                    VALUES (\(bind: repository.value), \(bind: tag.value), \(bind: manifest.digest.description), \(bind: now), \(bind: pusher))
                    ON CONFLICT (repository, name) DO UPDATE
                    SET manifest = excluded.manifest, updated_at = excluded.updated_at, pushed_by = excluded.pushed_by
                    """).run()
            }
            // Pushed again: its untagged clock starts over (and a collector that chose it re-checks and lets it be).
            try await Self.updateUntaggedSince([manifest.digest] + [replaced].compactMap { $0 }, in: repository, at: now, in: db)
            try await db.raw("UPDATE repositories SET updated_at = \(bind: now) WHERE name = \(bind: repository.value)").run()
        }
    }

    public func manifest(_ digest: Digest, in repository: RepositoryName) async throws -> StoredManifest? {
        try await cachedManifest("manifest|\(repository.value)|\(digest)") { try await readManifest(digest, in: repository) }
    }

    public func manifest(taggedWith tag: Tag, in repository: RepositoryName) async throws -> StoredManifest? {
        try await cachedManifest("tagged|\(repository.value)|\(tag.value)") { try await readManifest(taggedWith: tag, in: repository) }
    }

    private func cachedManifest(_ key: String, read: @escaping @Sendable () async throws -> StoredManifest?) async throws -> StoredManifest? {
        let value = try await access.cache.cached(key) { .manifest(try await read()) }
        guard case .manifest(let manifest) = value else { return try await read() }
        return manifest
    }

    private func readManifest(_ digest: Digest, in repository: RepositoryName) async throws -> StoredManifest? {
        guard let row = try await db.raw("""
            SELECT digest, media_type, artifact_type, subject, annotations, content, created_at FROM manifests
            WHERE repository = \(bind: repository.value) AND digest = \(bind: digest.description)
            """).first() else { return nil }
        return try Self.decodeManifest(row)
    }

    private func readManifest(taggedWith tag: Tag, in repository: RepositoryName) async throws -> StoredManifest? {
        guard let row = try await db.raw("""
            SELECT m.digest, m.media_type, m.artifact_type, m.subject, m.annotations, m.content, m.created_at
            FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.manifest
            WHERE t.repository = \(bind: repository.value) AND t.name = \(bind: tag.value)
            """).first() else { return nil }
        return try Self.decodeManifest(row)
    }

    static func decodeManifest(_ row: any SQLRow) throws -> StoredManifest {
        let annotations = try row.decode(column: "annotations", as: String?.self).flatMap {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))
        }
        return StoredManifest(
            digest: Digest(try row.decode(column: "digest", as: String.self))!,
            mediaType: try row.decode(column: "media_type", as: String.self),
            content: Array(try row.decode(column: "content", as: Data.self)),
            artifactType: try row.decode(column: "artifact_type", as: String?.self),
            subject: try row.decode(column: "subject", as: String?.self).flatMap { Digest($0) },
            annotations: annotations,
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self))
        )
    }

    public func taggedDigest(_ tag: Tag, in repository: RepositoryName) async throws -> Digest? {
        try await db.raw("""
            SELECT manifest FROM tags WHERE repository = \(bind: repository.value) AND name = \(bind: tag.value)
            """).first().flatMap { Digest(try $0.decode(column: "manifest", as: String.self)) }
    }

    public func existingManifests(_ digests: [Digest], in repository: RepositoryName) async throws -> Set<Digest> {
        guard !digests.isEmpty else { return [] }
        let rows = try await db.raw("""
            SELECT digest FROM manifests WHERE repository = \(bind: repository.value)
            AND digest IN (\(binds: digests.map(\.description)))
            """).all()
        return Set(try rows.compactMap { Digest(try $0.decode(column: "digest", as: String.self)) })
    }

    public func deleteManifest(_ digest: Digest, in repository: RepositoryName) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM manifests WHERE repository = \(bind: repository.value) AND digest = \(bind: digest.description)",
            change: "DELETE FROM manifests WHERE repository = \(bind: repository.value) AND digest = \(bind: digest.description)"
        )
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName) async throws -> Bool {
        let now = self.now
        return try await access.transaction { db in
            guard let digest = try await Self.taggedDigest(tag, in: repository, in: db) else { return false }
            try await db.raw("DELETE FROM tags WHERE repository = \(bind: repository.value) AND name = \(bind: tag.value)").run()
            try await Self.updateUntaggedSince([digest], in: repository, at: now, in: db)
            return true
        }
    }

    static func taggedDigest(_ tag: Tag, in repository: RepositoryName, in db: any SQLDatabase) async throws -> Digest? {
        try await db.raw("""
            SELECT manifest FROM tags WHERE repository = \(bind: repository.value) AND name = \(bind: tag.value)
            """).first().flatMap { Digest(try $0.decode(column: "manifest", as: String.self)) }
    }

    /// Sets each manifest's `untagged_since`: NULL while a tag points at it, else `now` (an untagged
    /// one's clock starts over). The update also takes the rows' locks: a collector deleting one of
    /// them concurrently re-checks it against the new row and keeps it.
    static func updateUntaggedSince(_ digests: [Digest], in repository: RepositoryName, at now: Double, in db: any SQLDatabase) async throws {
        guard !digests.isEmpty else { return }
        try await db.raw("""
            UPDATE manifests SET untagged_since = CASE WHEN EXISTS (
                SELECT 1 FROM tags t WHERE t.repository = manifests.repository AND t.manifest = manifests.digest
            ) THEN NULL ELSE \(bind: now) END
            WHERE repository = \(bind: repository.value) AND digest IN (\(binds: digests.map(\.description)))
            """).run()
    }

    /// Inside a manifest push: re-checks that its blobs are still linked and its child manifests
    /// still stored (garbage collection may have taken them since the push checked), and touches
    /// them so that a collector racing this push keeps them.
    static func touchReferences(of manifest: StoredManifest, in repository: RepositoryName, at now: Double, in db: any SQLDatabase) async throws {
        let blobs = Array(Set(manifest.blobReferences))
        if !blobs.isEmpty {
            try await db.raw("""
                UPDATE repository_blobs SET created_at = \(bind: now)
                WHERE repository = \(bind: repository.value) AND digest IN (\(binds: blobs.map(\.description)))
                """).run()
            let linked = try await db.raw("""
                SELECT COUNT(*) AS n FROM repository_blobs
                WHERE repository = \(bind: repository.value) AND digest IN (\(binds: blobs.map(\.description)))
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            if linked < blobs.count { throw StoreError.referenceGone("blob") }
        }
        let children = Array(Set(manifest.manifestReferences))
        if !children.isEmpty {
            try await updateUntaggedSince(children, in: repository, at: now, in: db)
            let stored = try await db.raw("""
                SELECT COUNT(*) AS n FROM manifests
                WHERE repository = \(bind: repository.value) AND digest IN (\(binds: children.map(\.description)))
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            if stored < children.count { throw StoreError.referenceGone("manifest") }
        }
        if let subject = manifest.subject {
            try await updateUntaggedSince([subject], in: repository, at: now, in: db)
        }
    }

    public func tags(pointingAt digest: Digest, in repository: RepositoryName) async throws -> [String] {
        try await db.raw("""
            SELECT name FROM tags WHERE repository = \(bind: repository.value) AND manifest = \(bind: digest.description) ORDER BY name
            """).all().map { try $0.decode(column: "name", as: String.self) }
    }

    public func tagList(in repository: RepositoryName) async throws -> TagList {
        let value = try await access.cache.cached("tags|\(repository.value)") {
            .tags(TagList(repository: repository, names: try await db.raw(
                "SELECT name FROM tags WHERE repository = \(bind: repository.value) ORDER BY name"
            ).all().map { try $0.decode(column: "name", as: String.self) }))
        }
        guard case .tags(let list) = value else { return TagList(repository: repository, names: []) }
        return list
    }

    public func referrers(of digest: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [StoredManifest] {
        let rows = try await db.raw("""
            SELECT digest, media_type, artifact_type, subject, annotations, content, created_at FROM manifests
            WHERE repository = \(bind: repository.value) AND subject = \(bind: digest.description)
            ORDER BY digest
            """).all()
        return try rows.map(Self.decodeManifest).filter { artifactType == nil || $0.artifactType == artifactType }
    }

    // MARK: Uploads

    public func createUpload(_ upload: UploadSession) async throws {
        // A session lost to a crash is simply restarted by the client: no fsync for it, nor for its progress.
        try await access.transaction(.relaxed) { db in
            try await db.raw("""
                INSERT INTO uploads (id, repository, size, created_at, updated_at)
                VALUES (\(bind: upload.id), \(bind: upload.repository.value), \(bind: upload.size),
                        \(bind: upload.createdAt.timeIntervalSince1970), \(bind: upload.updatedAt.timeIntervalSince1970))
                """).run()
        }
    }

    public func upload(_ id: String) async throws -> UploadSession? {
        guard let row = try await db.raw("""
            SELECT id, repository, size, staged_digest, created_at, updated_at FROM uploads WHERE id = \(bind: id)
            """).first() else { return nil }
        return try Self.decodeUpload(row)
    }

    private static func decodeUpload(_ row: any SQLRow) throws -> UploadSession? {
        guard let repository = RepositoryName(try row.decode(column: "repository", as: String.self)) else { return nil }
        return UploadSession(
            id: try row.decode(column: "id", as: String.self),
            repository: repository,
            size: try row.decode(column: "size", as: Int64.self),
            stagedDigest: try row.decode(column: "staged_digest", as: String?.self).flatMap { Digest($0) },
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row.decode(column: "updated_at", as: Double.self))
        )
    }

    public func updateUpload(_ id: String, size: Int64, stagedDigest: Digest?, at time: Date) async throws {
        try await access.transaction(.relaxed) { db in
            try await db.raw("""
                UPDATE uploads SET size = \(bind: size), staged_digest = \(bind: stagedDigest?.description),
                    updated_at = \(bind: time.timeIntervalSince1970) WHERE id = \(bind: id)
                """).run()
        }
    }

    public func completeUpload(_ id: String, digest: Digest, size: Int64) async throws {
        let now = self.now
        try await access.transaction { db in
            guard let row = try await db.raw("SELECT repository FROM uploads WHERE id = \(bind: id)").first(),
                  let repository = RepositoryName(try row.decode(column: "repository", as: String.self))
            else { throw StoreError.notFound }
            try await db.raw("DELETE FROM uploads WHERE id = \(bind: id)").run()
            try await Self.link(digest, size: size, into: repository, at: now, in: db)
        }
    }

    public func deleteUpload(_ id: String) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM uploads WHERE id = \(bind: id)",
            change: "DELETE FROM uploads WHERE id = \(bind: id)"
        )
    }

    public func uploads(idleSince time: Date) async throws -> [UploadSession] {
        try await db.raw("""
            SELECT id, repository, size, staged_digest, created_at, updated_at FROM uploads
            WHERE updated_at < \(bind: time.timeIntervalSince1970)
            """).all().compactMap(Self.decodeUpload)
    }

    // MARK: Statistics

    public func openUploadCount() async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM uploads").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func storedBytes() async throws -> Int64 {
        try await db.raw("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM blobs").first()?.decode(column: "n", as: Int64.self) ?? 0
    }
}
