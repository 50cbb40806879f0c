import Foundation
import SQLKit
import WharfCore

/// Who may do what: collaborators and the facts the access policy reads.
extension SQLAccountStore {
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
        guard let row = try await db.raw("""
            SELECT q.name AS name, r.is_private AS is_private, \(Self.factColumns(subject, repository: "q.name"))
            FROM (SELECT \(bind: repository.value) AS name, \(bind: String(repository.namespace)) AS namespace) q
            LEFT JOIN repositories r ON r.name = q.name
            LEFT JOIN accounts a ON a.name = q.namespace
            """).first() else { return AccessFacts() }
        return try Self.decodeFacts(row, subject: subject)
    }

    public func accessFacts(for subject: String?, after last: String?, limit: Int) async throws -> [(RepositoryName, AccessFacts)] {
        try await facts(for: subject, rows: db.raw("""
            SELECT r.name AS name, r.is_private AS is_private, \(Self.factColumns(subject, repository: "r.name"))
            FROM repositories r LEFT JOIN accounts a ON a.name = r.namespace
            WHERE r.name > \(bind: last ?? "") ORDER BY r.name LIMIT \(bind: limit)
            """).all())
    }

    public func privateAccessFacts(for subject: String?, in namespace: String) async throws -> [(RepositoryName, AccessFacts)] {
        try await facts(for: subject, rows: db.raw("""
            SELECT r.name AS name, r.is_private AS is_private, \(Self.factColumns(subject, repository: "r.name"))
            FROM repositories r LEFT JOIN accounts a ON a.name = r.namespace
            WHERE r.namespace = \(bind: namespace) AND r.is_private = TRUE
            """).all())
    }

    public func accessFacts(for subject: String?, on repositories: [RepositoryName]) async throws -> [(RepositoryName, AccessFacts)] {
        guard !repositories.isEmpty else { return [] }
        return try await facts(for: subject, rows: db.raw("""
            SELECT r.name AS name, r.is_private AS is_private, \(Self.factColumns(subject, repository: "r.name"))
            FROM repositories r LEFT JOIN accounts a ON a.name = r.namespace
            WHERE r.name IN (\(binds: repositories.map(\.value)))
            """).all())
    }

    private func facts(for subject: String?, rows: [any SQLRow]) throws -> [(RepositoryName, AccessFacts)] {
        try rows.compactMap { row in
            guard let name = RepositoryName(try row.decode(column: "name", as: String.self)) else { return nil }
            return (name, try Self.decodeFacts(row, subject: subject))
        }
    }

    /// The subject's grants on the repository named by the column `repository` (which need not exist yet)
    /// in namespace account `a`, as scalar subqueries (one round trip).
    private static func factColumns(_ subject: String?, repository: String) -> SQLQueryString {
        let who = subject ?? ""
        return """
            a.kind AS kind,
            (SELECT permission FROM collaborators c WHERE c.repository = \(unsafeRaw: repository) AND c.account = \(bind: who)) AS collaborator,
            (SELECT COUNT(*) FROM team_members m WHERE m.organization = a.name AND m.team = 'owners' AND m.account = \(bind: who)) AS owner,
            (SELECT MAX(tr.permission) FROM team_repositories tr JOIN team_members m
               ON m.organization = tr.organization AND m.team = tr.team
               WHERE tr.organization = a.name AND tr.repository = \(unsafeRaw: repository) AND m.account = \(bind: who)) AS team
            """
    }

    private static func decodeFacts(_ row: any SQLRow, subject: String?) throws -> AccessFacts {
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

    public func organizationFacts(for subject: String, on organization: String) async throws -> OrganizationFacts {
        guard AccountName.isWellFormed(organization), AccountName.isWellFormed(subject) || subject.isEmpty else { return OrganizationFacts() }
        guard let row = try await db.raw("""
            SELECT
              (SELECT COUNT(*) FROM accounts WHERE name = \(bind: organization) AND kind = 'organization') AS org,
              (SELECT COUNT(*) FROM team_members WHERE organization = \(bind: organization) AND team = 'owners' AND account = \(bind: subject)) AS owner,
              (SELECT COUNT(*) FROM team_members WHERE organization = \(bind: organization) AND account = \(bind: subject)) AS member
            """).first() else { return OrganizationFacts() }
        return OrganizationFacts(exists: try row.decode(column: "org", as: Int.self) > 0,
                                 isOwner: try row.decode(column: "owner", as: Int.self) > 0,
                                 isMember: try row.decode(column: "member", as: Int.self) > 0)
    }
}
