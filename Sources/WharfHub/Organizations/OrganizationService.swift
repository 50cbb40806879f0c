import WharfAuth
import WharfCore
import WharfMetadata

/// Organizations and their teams. Any user may create an organization and becomes its owner;
/// owners (and administrators) manage teams, members and team permissions; an organization
/// always keeps at least one owner.
public struct OrganizationService: Sendable {
    let stores: Stores
    let access: Access

    /// An organization with its teams.
    public struct Organization: Sendable {
        public let account: Account
        public let teams: [Team]
    }

    /// Creates an organization owned by `owner` (the caller, unless an administrator names another user).
    public func create(_ raw: String, owner: String? = nil, by principal: Principal?) async throws -> Organization {
        try access.require(principal, .createOrganization)
        guard let principal else { throw HubError.unauthenticated }
        let name = try AccountRules.organizationName(raw)
        let ownerName = owner ?? principal.name
        if ownerName != principal.name { try access.require(principal, .administerServer) }
        guard try await stores.accounts.account(ownerName)?.kind == .user else { throw HubError.invalid("owner", "no user named \(ownerName)") }
        do {
            try await stores.transaction { tx in
                try await tx.accounts.createOrganization(name, owner: ownerName)
                try await AuditTrail.record("organization_create", actor: principal.name, namespace: name, details: ["owner": ownerName], in: tx)
            }
        } catch StoreError.exists {
            throw HubError.conflict("name", "the name \(name) is taken")
        }
        return try await load(name)
    }

    /// The organizations the caller belongs to.
    public func memberships(of principal: Principal?) async throws -> [String] {
        guard let principal else { throw HubError.unauthenticated }
        return try await stores.accounts.organizations(of: principal.name)
    }

    /// Every organization (administrators, and the command line).
    public func all(by principal: Principal?) async throws -> [Organization] {
        try access.require(principal, .administerServer)
        var result: [Organization] = []
        for account in try await stores.accounts.accounts() where account.kind == .organization {
            result.append(Organization(account: account, teams: try await stores.accounts.teams(in: account.name)))
        }
        return result
    }

    /// The organization, for its members.
    public func show(_ org: String, by principal: Principal?) async throws -> Organization {
        try await access.require(principal, .view, organization: org)
        return try await load(org)
    }

    /// Changes whether new repositories of the organization start private.
    public func update(_ org: String, defaultPrivate: Bool?, by principal: Principal?) async throws -> Organization {
        try await access.require(principal, .manage, organization: org)
        _ = try await stores.accounts.updateAccount(org, AccountChanges(defaultPrivate: defaultPrivate))
        return try await load(org)
    }

    /// Whether the caller may manage the organization (teams, members, permissions).
    public func canManage(_ org: String, by principal: Principal?) async throws -> Bool {
        guard let principal else { return false }
        return AccessPolicy.allows(principal, .manage, facts: try await stores.accounts.organizationFacts(for: principal.name, on: org))
    }

    public func teams(of org: String, by principal: Principal?) async throws -> [Team] {
        try await access.require(principal, .manage, organization: org)
        return try await stores.accounts.teams(in: org)
    }

    public func createTeam(_ raw: String, in org: String, by principal: Principal?) async throws -> Team {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        do {
            try await stores.transaction { tx in
                try await tx.accounts.createTeam(team, in: org)
                try await AuditTrail.record("team_create", actor: principal?.name, namespace: org, target: team.value, in: tx)
            }
        } catch StoreError.exists {
            throw HubError.conflict("name", "the team \(team) exists")
        }
        return Team(name: team.value, members: [], repositories: [:])
    }

    /// Deletes a team (never the owners team).
    public func deleteTeam(_ raw: String, in org: String, by principal: Principal?) async throws {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        guard team != .owners else { throw HubError.forbidden("the owners team cannot be deleted") }
        try await stores.transaction { tx in
            guard try await tx.accounts.deleteTeam(team, in: org) else { throw HubError.notFound("team") }
            try await AuditTrail.record("team_delete", actor: principal?.name, namespace: org, target: team.value, in: tx)
        }
    }

    public func addMember(_ username: String, to raw: String, in org: String, by principal: Principal?) async throws -> Team {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        guard let account = try await stores.accounts.account(username), account.kind == .user else {
            throw HubError.notFound("user \(username)")
        }
        return try await changeTeam(team, in: org) { tx in
            try await tx.accounts.addTeamMember(account.name, to: team, in: org)
            try await AuditTrail.record("team_member_add", actor: principal?.name, namespace: org, target: team.value,
                                        details: ["member": account.name], in: tx)
        }
    }

    /// Removes a member; the last owner cannot leave the owners team.
    public func removeMember(_ username: String, from raw: String, in org: String, by principal: Principal?) async throws {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        try await stores.transaction { tx in
            if team == .owners, try await Self.team(team, in: org, tx).members == [username] {
                throw HubError.forbidden("an organization needs at least one owner")
            }
            guard try await tx.accounts.removeTeamMember(username, from: team, in: org) else { throw HubError.notFound("team member") }
            try await AuditTrail.record("team_member_remove", actor: principal?.name, namespace: org, target: team.value,
                                        details: ["member": username], in: tx)
        }
    }

    /// Gives a team a permission on a repository of the organization.
    public func grant(_ raw: String, permission: String, on repository: String, in org: String, by principal: Principal?) async throws -> Team {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        guard let name = RepositoryName("\(org)/\(repository)") else { throw HubError.invalid("name", "invalid repository name \(repository)") }
        let level = try AccountRules.permission(permission)
        return try await changeTeam(team, in: org) { tx in
            try await tx.accounts.setTeamPermission(level, on: name.value, for: team, in: org)
            try await AuditTrail.record("team_permission_set", actor: principal?.name, namespace: org, repository: name, target: team.value,
                                        details: ["permission": permission], in: tx)
        }
    }

    public func revoke(_ raw: String, on repository: String, in org: String, by principal: Principal?) async throws {
        try await access.require(principal, .manage, organization: org)
        let team = try AccountRules.team(raw)
        try await stores.transaction { tx in
            guard try await tx.accounts.removeTeamPermission(on: "\(org)/\(repository)", for: team, in: org) else {
                throw HubError.notFound("permission")
            }
            try await AuditTrail.record("team_permission_remove", actor: principal?.name, namespace: org, repository: RepositoryName("\(org)/\(repository)"),
                                        target: team.value, in: tx)
        }
    }

    private func load(_ org: String) async throws -> Organization {
        guard let account = try await stores.accounts.account(org), account.kind == .organization else {
            throw HubError.notFound("organization")
        }
        return Organization(account: account, teams: try await stores.accounts.teams(in: org))
    }

    /// Applies `change` to an existing team and returns the team as changed, in one transaction.
    private func changeTeam(_ team: TeamName, in org: String, _ change: @escaping @Sendable (Stores) async throws -> Void) async throws -> Team {
        try await stores.transaction { tx in
            do {
                try await change(tx)
            } catch StoreError.notFound {
                throw HubError.notFound("team")
            }
            return try await Self.team(team, in: org, tx)
        }
    }

    private static func team(_ team: TeamName, in org: String, _ tx: Stores) async throws -> Team {
        guard let found = try await tx.accounts.teams(in: org).first(where: { $0.name == team.value }) else {
            throw HubError.notFound("team")
        }
        return found
    }
}
