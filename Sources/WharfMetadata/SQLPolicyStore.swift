import Foundation
import SQLKit
import WharfCore

/// `PolicyStore` over `repository_policies`, `namespace_quotas` and the registry's tables.
struct SQLPolicyStore: PolicyStore {
    let access: any SQLDatabaseAccess
    let clock: any WallClock

    private var db: any SQLDatabase { access.reader }

    func immutableTagPatterns(of repository: RepositoryName) async throws -> [String] {
        guard let row = try await db.raw("SELECT immutable_tags FROM repository_policies WHERE repository = \(bind: repository.value)").first()
        else { return [] }
        return try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "immutable_tags", as: String.self).utf8))
    }

    func setImmutableTagPatterns(_ patterns: [String], of repository: RepositoryName) async throws {
        let json = String(decoding: try JSONEncoder().encode(patterns), as: UTF8.self)
        try await upsert(repository, column: "immutable_tags", value: json)
    }

    func retentionPolicy(of repository: RepositoryName) async throws -> RetentionPolicy? {
        guard let row = try await db.raw("SELECT retention FROM repository_policies WHERE repository = \(bind: repository.value)").first(),
              let json = try row.decode(column: "retention", as: String?.self) else { return nil }
        return try JSONDecoder().decode(RetentionPolicy.self, from: Data(json.utf8))
    }

    func setRetentionPolicy(_ policy: RetentionPolicy?, of repository: RepositoryName) async throws {
        let json = try policy.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await upsert(repository, column: "retention", value: json)
    }

    /// Sets one column of the repository's policy row, creating the row if needed.
    private func upsert(_ repository: RepositoryName, column: String, value: String?) async throws {
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO repository_policies (repository, updated_at) VALUES (\(bind: repository.value), \(bind: now))
                ON CONFLICT (repository) DO NOTHING
                """).run()
            try await db.raw("""
                UPDATE repository_policies SET \(unsafeRaw: column) = \(bind: value), updated_at = \(bind: now)
                WHERE repository = \(bind: repository.value)
                """).run()
        }
    }

    func namespaceRetentionPolicy(of namespace: String) async throws -> RetentionPolicy? {
        guard let row = try await db.raw("SELECT retention FROM namespace_policies WHERE namespace = \(bind: namespace)").first(),
              let json = try row.decode(column: "retention", as: String?.self) else { return nil }
        return try JSONDecoder().decode(RetentionPolicy.self, from: Data(json.utf8))
    }

    func setNamespaceRetentionPolicy(_ policy: RetentionPolicy?, of namespace: String) async throws {
        let json = try policy.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO namespace_policies (namespace, retention, updated_at) VALUES (\(bind: namespace), \(bind: json), \(bind: now))
                ON CONFLICT (namespace) DO UPDATE SET retention = excluded.retention, updated_at = excluded.updated_at
                """).run()
        }
    }

    func repositoriesWithRetention() async throws -> [RepositoryName] {
        try await db.raw("""
            SELECT repository AS name FROM repository_policies WHERE retention IS NOT NULL
            UNION
            SELECT r.name AS name FROM repositories r JOIN namespace_policies n ON n.namespace = r.namespace WHERE n.retention IS NOT NULL
            ORDER BY name
            """).all().compactMap { RepositoryName(try $0.decode(column: "name", as: String.self)) }
    }

    func pushedTags(in repository: RepositoryName) async throws -> [(name: String, pushedAt: Date)] {
        try await db.raw("""
            SELECT name, updated_at FROM tags WHERE repository = \(bind: repository.value) ORDER BY updated_at DESC, name
            """).all().map { row in
                (try row.decode(column: "name", as: String.self),
                 Date(timeIntervalSince1970: try row.decode(column: "updated_at", as: Double.self)))
            }
    }

    func quota(of namespace: String, lock: Bool) async throws -> Int64? {
        let forUpdate = lock && access.flavor == .postgres ? " FOR UPDATE" : ""
        return try await db.raw("SELECT bytes FROM namespace_quotas WHERE namespace = \(bind: namespace)\(unsafeRaw: forUpdate)")
            .first()?.decode(column: "bytes", as: Int64.self)
    }

    func setQuota(_ bytes: Int64?, of namespace: String) async throws {
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            guard let bytes else {
                try await db.raw("DELETE FROM namespace_quotas WHERE namespace = \(bind: namespace)").run()
                return
            }
            try await db.raw("""
                INSERT INTO namespace_quotas (namespace, bytes, updated_at) VALUES (\(bind: namespace), \(bind: bytes), \(bind: now))
                ON CONFLICT (namespace) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at
                """).run()
        }
    }

    func usage(of namespace: String) async throws -> Int64 {
        try await db.raw("""
            SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) AS n FROM blobs b WHERE b.digest IN (
                SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.name = rb.repository
                WHERE r.namespace = \(bind: namespace))
            """).first()?.decode(column: "n", as: Int64.self) ?? 0
    }

    func namespace(_ namespace: String, links digest: Digest) async throws -> Bool {
        try await db.raw("""
            SELECT 1 AS ok FROM repository_blobs rb JOIN repositories r ON r.name = rb.repository
            WHERE r.namespace = \(bind: namespace) AND rb.digest = \(bind: digest.description) LIMIT 1
            """).first() != nil
    }
}
