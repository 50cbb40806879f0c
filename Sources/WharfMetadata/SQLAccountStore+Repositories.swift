import Foundation
import SQLKit
import WharfCore

extension SQLAccountStore {
    public func repositoryInfo(_ name: RepositoryName) async throws -> RepositoryInfo? {
        try await db.raw("SELECT name, is_private, description, created_at FROM repositories WHERE name = \(bind: name.value)")
            .first().flatMap(Self.decodeRepository)
    }

    public func createRepository(_ name: RepositoryName, isPrivate: Bool, description: String) async throws {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() == nil else {
                throw AccountStoreError.exists
            }
            try await db.raw("""
                INSERT INTO repositories (name, namespace, created_at, is_private, description)
                VALUES (\(bind: name.value), \(bind: String(name.namespace)), \(bind: Date().timeIntervalSince1970),
                        \(bind: isPrivate), \(bind: description))
                """).run()
        }
    }

    static func decodeRepository(_ row: any SQLRow) throws -> RepositoryInfo? {
        guard let name = RepositoryName(try row.decode(column: "name", as: String.self)) else { return nil }
        return RepositoryInfo(
            name: name,
            isPrivate: try row.decode(column: "is_private", as: Bool.self),
            description: try row.decode(column: "description", as: String.self),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self))
        )
    }

    public func updateRepository(_ name: RepositoryName, isPrivate: Bool?, description: String?) async throws -> Bool {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() != nil else { return false }
            if let isPrivate {
                try await db.raw("UPDATE repositories SET is_private = \(bind: isPrivate) WHERE name = \(bind: name.value)").run()
            }
            if let description {
                try await db.raw("UPDATE repositories SET description = \(bind: description) WHERE name = \(bind: name.value)").run()
            }
            return true
        }
    }

    public func privateRepositoryCount(in namespace: String) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM repositories WHERE namespace = \(bind: namespace) AND is_private = TRUE")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func repositories(in namespace: String) async throws -> [RepositoryInfo] {
        try await db.raw("""
            SELECT name, is_private, description, created_at FROM repositories WHERE namespace = \(bind: namespace) ORDER BY name
            """).all().compactMap(Self.decodeRepository)
    }

    public func deleteRepository(_ name: RepositoryName) async throws -> Bool {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: name.value)").first() != nil else { return false }
            try await db.raw("DELETE FROM tags WHERE repository = \(bind: name.value)").run()
            try await db.raw("DELETE FROM manifest_references WHERE repository = \(bind: name.value)").run()
            try await db.raw("DELETE FROM manifests WHERE repository = \(bind: name.value)").run()
            try await db.raw("DELETE FROM repository_blobs WHERE repository = \(bind: name.value)").run()
            try await db.raw("DELETE FROM collaborators WHERE repository = \(bind: name.value)").run()
            try await db.raw("DELETE FROM repositories WHERE name = \(bind: name.value)").run()
            return true
        }
    }

    public func visibleRepositories(to subject: String?, isAdmin: Bool, after last: String?, limit: Int) async throws -> [RepositoryName] {
        let rows: [any SQLRow]
        if isAdmin {
            rows = try await db.raw("""
                SELECT name FROM repositories WHERE name > \(bind: last ?? "") ORDER BY name LIMIT \(bind: limit)
                """).all()
        } else if let subject {
            rows = try await db.raw("""
                SELECT name FROM repositories r WHERE r.name > \(bind: last ?? "") AND (
                    r.is_private = FALSE OR r.namespace = \(bind: subject)
                    OR EXISTS (SELECT 1 FROM collaborators c WHERE c.repository = r.name AND c.account = \(bind: subject))
                    OR EXISTS (SELECT 1 FROM team_members m JOIN team_repositories tr
                               ON tr.organization = m.organization AND tr.team = m.team
                               WHERE m.account = \(bind: subject) AND tr.repository = r.name)
                    OR EXISTS (SELECT 1 FROM team_members m WHERE m.organization = r.namespace
                               AND m.team = 'owners' AND m.account = \(bind: subject)))
                ORDER BY r.name LIMIT \(bind: limit)
                """).all()
        } else {
            rows = try await db.raw("""
                SELECT name FROM repositories WHERE is_private = FALSE AND name > \(bind: last ?? "")
                ORDER BY name LIMIT \(bind: limit)
                """).all()
        }
        return try rows.compactMap { RepositoryName(try $0.decode(column: "name", as: String.self)) }
    }

    // MARK: Collaborators

    public func setCollaborator(_ account: String, permission: Permission, on repository: RepositoryName) async throws {
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO collaborators (repository, account, permission)
                VALUES (\(bind: repository.value), \(bind: account), \(bind: permission.rawValue))
                ON CONFLICT (repository, account) DO UPDATE SET permission = excluded.permission
                """).run()
        }
    }

    public func removeCollaborator(_ account: String, from repository: RepositoryName) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM collaborators WHERE repository = \(bind: repository.value) AND account = \(bind: account)",
            change: "DELETE FROM collaborators WHERE repository = \(bind: repository.value) AND account = \(bind: account)"
        )
    }

    public func collaborators(of repository: RepositoryName) async throws -> [(account: String, permission: Permission)] {
        try await db.raw("SELECT account, permission FROM collaborators WHERE repository = \(bind: repository.value) ORDER BY account")
            .all().compactMap { row in
                guard let permission = Permission(rawValue: try row.decode(column: "permission", as: Int.self)) else { return nil }
                return (try row.decode(column: "account", as: String.self), permission)
            }
    }

    // MARK: Policy input

    public func accessFacts(for subject: String?, on repository: RepositoryName) async throws -> AccessFacts {
        let value = try await access.cache.cached("facts|\(subject ?? "")|\(repository.value)") {
            .facts(try await readAccessFacts(for: subject, on: repository))
        }
        guard case .facts(let facts) = value else { return try await readAccessFacts(for: subject, on: repository) }
        return facts
    }

    private func readAccessFacts(for subject: String?, on repository: RepositoryName) async throws -> AccessFacts {
        let namespace = String(repository.namespace)
        let who = subject ?? ""
        // One round trip: every fact is a scalar subquery.
        guard let row = try await db.raw("""
            SELECT
              (SELECT is_private FROM repositories WHERE name = \(bind: repository.value)) AS is_private,
              (SELECT kind FROM accounts WHERE name = \(bind: namespace)) AS kind,
              (SELECT permission FROM collaborators WHERE repository = \(bind: repository.value) AND account = \(bind: who)) AS collaborator,
              (SELECT COUNT(*) FROM team_members WHERE organization = \(bind: namespace) AND team = 'owners' AND account = \(bind: who)) AS owner,
              (SELECT MAX(tr.permission) FROM team_repositories tr JOIN team_members m
                 ON m.organization = tr.organization AND m.team = tr.team
                 WHERE tr.organization = \(bind: namespace) AND tr.repository = \(bind: repository.value) AND m.account = \(bind: who)) AS team
            """).first() else { return AccessFacts() }
        var facts = AccessFacts()
        if let isPrivate = try row.decode(column: "is_private", as: Bool?.self) {
            facts.exists = true
            facts.isPrivate = isPrivate
        }
        facts.namespaceKind = try row.decode(column: "kind", as: String?.self).flatMap(Account.Kind.init(rawValue:))
        guard subject != nil else { return facts }
        facts.collaboratorPermission = try row.decode(column: "collaborator", as: Int?.self).flatMap(Permission.init(rawValue:))
        if facts.namespaceKind == .organization {
            facts.isOrganizationOwner = try row.decode(column: "owner", as: Int.self) > 0
            facts.teamPermission = try row.decode(column: "team", as: Int?.self).flatMap(Permission.init(rawValue:))
        }
        return facts
    }
}
