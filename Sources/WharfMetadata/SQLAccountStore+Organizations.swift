import Foundation
import SQLKit
import WharfCore

extension SQLAccountStore {
    public func createOrganization(_ name: String, owner: String) async throws {
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM accounts WHERE name = \(bind: name)").first() == nil else {
                throw StoreError.exists
            }
            try await db.raw("""
                INSERT INTO accounts (name, kind, is_admin, disabled, default_private, created_at)
                VALUES (\(bind: name), 'organization', FALSE, FALSE, FALSE, \(bind: now))
                """).run()
            try await db.raw("INSERT INTO teams (organization, name, created_at) VALUES (\(bind: name), 'owners', \(bind: now))").run()
            try await db.raw("""
                INSERT INTO team_members (organization, team, account) VALUES (\(bind: name), 'owners', \(bind: owner))
                """).run()
        }
    }

    public func organizations(of account: String) async throws -> [String] {
        try await db.raw("SELECT DISTINCT organization FROM team_members WHERE account = \(bind: account) ORDER BY organization")
            .all().map { try $0.decode(column: "organization", as: String.self) }
    }

    public func createTeam(_ team: TeamName, in organization: String) async throws {
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            guard try await db.raw("""
                SELECT 1 AS ok FROM teams WHERE organization = \(bind: organization) AND name = \(bind: team.value)
                """).first() == nil else { throw StoreError.exists }
            try await db.raw("""
                INSERT INTO teams (organization, name, created_at) VALUES (\(bind: organization), \(bind: team.value), \(bind: now))
                """).run()
        }
    }

    public func deleteTeam(_ team: TeamName, in organization: String) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM teams WHERE organization = \(bind: organization) AND name = \(bind: team.value)",
            change: "DELETE FROM teams WHERE organization = \(bind: organization) AND name = \(bind: team.value)"
        )
    }

    public func teams(in organization: String) async throws -> [Team] {
        let names = try await db.raw("SELECT name FROM teams WHERE organization = \(bind: organization) ORDER BY name")
            .all().map { try $0.decode(column: "name", as: String.self) }
        var teams: [Team] = []
        for name in names {
            let members = try await db.raw("""
                SELECT account FROM team_members WHERE organization = \(bind: organization) AND team = \(bind: name) ORDER BY account
                """).all().map { try $0.decode(column: "account", as: String.self) }
            var repositories: [String: Permission] = [:]
            for row in try await db.raw("""
                SELECT repository, permission FROM team_repositories WHERE organization = \(bind: organization) AND team = \(bind: name)
                """).all() {
                repositories[try row.decode(column: "repository", as: String.self)] =
                    Permission(rawValue: try row.decode(column: "permission", as: Int.self))
            }
            teams.append(Team(name: name, members: members, repositories: repositories))
        }
        return teams
    }

    public func addTeamMember(_ account: String, to team: TeamName, in organization: String) async throws {
        try await access.transaction { db in
            try await Self.requireTeam(team, in: organization, db: db)
            try await db.raw("""
                INSERT INTO team_members (organization, team, account) VALUES (\(bind: organization), \(bind: team.value), \(bind: account))
                ON CONFLICT (organization, team, account) DO NOTHING
                """).run()
        }
    }

    public func removeTeamMember(_ account: String, from team: TeamName, in organization: String) async throws -> Bool {
        try await access.writeIfExists(
            check: """
                SELECT 1 AS ok FROM team_members WHERE organization = \(bind: organization) AND team = \(bind: team.value) AND account = \(bind: account)
                """,
            change: """
                DELETE FROM team_members WHERE organization = \(bind: organization) AND team = \(bind: team.value) AND account = \(bind: account)
                """
        )
    }

    public func setTeamPermission(_ permission: Permission, on repository: String, for team: TeamName, in organization: String) async throws {
        try await access.transaction { db in
            try await Self.requireTeam(team, in: organization, db: db)
            try await db.raw("""
                INSERT INTO team_repositories (organization, team, repository, permission)
                VALUES (\(bind: organization), \(bind: team.value), \(bind: repository), \(bind: permission.rawValue))
                ON CONFLICT (organization, team, repository) DO UPDATE SET permission = excluded.permission
                """).run()
        }
    }

    public func removeTeamPermission(on repository: String, for team: TeamName, in organization: String) async throws -> Bool {
        try await access.writeIfExists(
            check: """
                SELECT 1 AS ok FROM team_repositories WHERE organization = \(bind: organization) AND team = \(bind: team.value) AND repository = \(bind: repository)
                """,
            change: """
                DELETE FROM team_repositories WHERE organization = \(bind: organization) AND team = \(bind: team.value) AND repository = \(bind: repository)
                """
        )
    }

    /// Throws `StoreError.notFound` unless the team exists.
    private static func requireTeam(_ team: TeamName, in organization: String, db: any SQLDatabase) async throws {
        guard try await db.raw("""
            SELECT 1 AS ok FROM teams WHERE organization = \(bind: organization) AND name = \(bind: team.value)
            """).first() != nil else { throw StoreError.notFound }
    }
}
