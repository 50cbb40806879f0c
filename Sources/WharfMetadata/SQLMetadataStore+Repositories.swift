import Foundation
import SQLKit
import WharfCore

/// The `repositories` table: this store is its only writer.
extension SQLMetadataStore {
    public func repositoryExists(_ name: RepositoryName) async throws -> Bool {
        let db = self.db
        let read: @Sendable () async throws -> Bool = {
            try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() != nil
        }
        guard case .flag(let exists) = try await access.cache.cached("exists|\(name.value)", read: { .flag(try await read()) }) else {
            return try await read()
        }
        return exists
    }

    public func repositories(after last: String?, limit: Int) async throws -> [RepositoryName] {
        try await db.raw("""
            SELECT name FROM repositories WHERE name > \(bind: last ?? "") ORDER BY name LIMIT \(bind: limit)
            """).all().compactMap { RepositoryName(try $0.decode(column: "name", as: String.self)) }
    }

    public func repositoryInfo(_ name: RepositoryName) async throws -> RepositoryInfo? {
        try await db.raw("SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE name = \(bind: name.value)")
            .first().flatMap(Self.decodeRepository)
    }

    /// The columns `decodeRepository` reads, of repositories aliased `r`.
    static let repositoryColumns = """
        r.name AS name, r.is_private AS is_private, r.description AS description, r.full_description AS full_description,
        r.created_at AS created_at, r.updated_at AS updated_at, r.pull_count AS pull_count, r.star_count AS star_count
        """

    public func createRepository(_ name: RepositoryName, isPrivate: Bool, description: String) async throws -> RepositoryInfo {
        let info = RepositoryInfo(name: name, isPrivate: isPrivate, description: description, createdAt: clock.now)
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() == nil else {
                throw StoreError.exists
            }
            try await db.raw("""
                INSERT INTO repositories (name, namespace, created_at, updated_at, is_private, description)
                VALUES (\(bind: name.value), \(bind: String(name.namespace)), \(bind: info.createdAt.timeIntervalSince1970),
                        \(bind: info.createdAt.timeIntervalSince1970), \(bind: isPrivate), \(bind: description))
                """).run()
        }
        return info
    }

    public func createPushedRepository(_ name: RepositoryName) async throws -> Bool {
        let now = clock.now
        return try await access.transaction { db in try await Self.ensureRepository(name, at: now, in: db) }
    }

    /// Creates the repository as a push does, private when its namespace's default says so; true when it was created.
    @discardableResult
    static func ensureRepository(_ name: RepositoryName, at now: Date, in db: any SQLDatabase) async throws -> Bool {
        try await !db.raw("""
            INSERT INTO repositories (name, namespace, created_at, updated_at, is_private)
            VALUES (\(bind: name.value), \(bind: String(name.namespace)), \(bind: now.timeIntervalSince1970), \(bind: now.timeIntervalSince1970),
                    COALESCE((SELECT default_private FROM accounts WHERE name = \(bind: String(name.namespace))), FALSE))
            ON CONFLICT (name) DO NOTHING
            RETURNING name
            """).all().isEmpty
    }

    static func decodeRepository(_ row: any SQLRow) throws -> RepositoryInfo? {
        guard let name = RepositoryName(try row.decode(column: "name", as: String.self)) else { return nil }
        return RepositoryInfo(
            name: name,
            isPrivate: try row.decode(column: "is_private", as: Bool.self),
            description: try row.decode(column: "description", as: String.self),
            fullDescription: try row.decode(column: "full_description", as: String.self),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row.decode(column: "updated_at", as: Double.self)),
            pullCount: try row.decode(column: "pull_count", as: Int64.self),
            starCount: try row.decode(column: "star_count", as: Int64.self)
        )
    }

    public func updateRepository(_ name: RepositoryName, isPrivate: Bool?, description: String?,
                                 fullDescription: String?) async throws -> RepositoryInfo? {
        let now = clock.now.timeIntervalSince1970
        return try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() != nil else { return nil }
            if let isPrivate {
                try await db.raw("UPDATE repositories SET is_private = \(bind: isPrivate) WHERE name = \(bind: name.value)").run()
            }
            if let description {
                try await db.raw("UPDATE repositories SET description = \(bind: description) WHERE name = \(bind: name.value)").run()
            }
            if let fullDescription {
                try await db.raw("UPDATE repositories SET full_description = \(bind: fullDescription) WHERE name = \(bind: name.value)").run()
            }
            try await db.raw("UPDATE repositories SET updated_at = \(bind: now) WHERE name = \(bind: name.value)").run()
            return try await db.raw("SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE name = \(bind: name.value)")
                .first().flatMap(Self.decodeRepository)
        }
    }

    public func privateRepositoryCount(in namespace: String) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM repositories WHERE namespace = \(bind: namespace) AND is_private = TRUE")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func repositories(in namespace: String) async throws -> [RepositoryInfo] {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE namespace = \(bind: namespace) ORDER BY name
            """).all().compactMap(Self.decodeRepository)
    }

    public func deleteRepository(_ name: RepositoryName) async throws -> Bool {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() != nil else { return false }
            for table in ["tags", "manifest_references", "manifests", "repository_blobs", "collaborators", "team_repositories"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE repository = \(bind: name.value)").run()
            }
            try await db.raw("DELETE FROM repositories WHERE name = \(bind: name.value)").run()
            return true
        }
    }
}
