import Foundation
import Logging
import Testing
import WharfCore
import WharfMetadata
import WharfTestSupport
@testable import WharfAuth

/// The whole access matrix, with facts read from a real (SQLite) account store:
/// subject × visibility × action.
@Suite("Access policy matrix")
struct AccessPolicyMatrixTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let subject: String
        let repository: String
        let onPublic: String
        let onPrivate: String
        var testDescription: String { "\(subject) on \(repository)" }
    }

    static let all = "pull,push,delete,manage"
    static let rows: [Row] = [
        Row(subject: "anonymous", repository: "alice/app", onPublic: "pull", onPrivate: ""),
        Row(subject: "stranger", repository: "alice/app", onPublic: "pull", onPrivate: ""),
        Row(subject: "alice", repository: "alice/app", onPublic: all, onPrivate: all),
        Row(subject: "reader", repository: "alice/app", onPublic: "pull", onPrivate: "pull"),
        Row(subject: "writer", repository: "alice/app", onPublic: "pull,push", onPrivate: "pull,push"),
        Row(subject: "manager", repository: "alice/app", onPublic: all, onPrivate: all),
        Row(subject: "root", repository: "alice/app", onPublic: all, onPrivate: all),
        Row(subject: "anonymous", repository: "acmeorg/tool", onPublic: "pull", onPrivate: ""),
        Row(subject: "stranger", repository: "acmeorg/tool", onPublic: "pull", onPrivate: ""),
        Row(subject: "teamread", repository: "acmeorg/tool", onPublic: "pull", onPrivate: "pull"),
        Row(subject: "teamwrite", repository: "acmeorg/tool", onPublic: "pull,push", onPrivate: "pull,push"),
        Row(subject: "teamadmin", repository: "acmeorg/tool", onPublic: all, onPrivate: all),
        Row(subject: "owner", repository: "acmeorg/tool", onPublic: all, onPrivate: all),
        Row(subject: "root", repository: "acmeorg/tool", onPublic: all, onPrivate: all),
        // Team grants are per repository: another repository of the organization is not covered.
        Row(subject: "teamwrite", repository: "acmeorg/other", onPublic: "pull", onPrivate: ""),
        // A collaborator of one repository has nothing on the owner's others.
        Row(subject: "writer", repository: "alice/other", onPublic: "pull", onPrivate: ""),
        Row(subject: "anonymous", repository: "library/nginx", onPublic: "pull", onPrivate: ""),
        Row(subject: "alice", repository: "library/nginx", onPublic: "pull", onPrivate: ""),
        Row(subject: "root", repository: "library/nginx", onPublic: all, onPrivate: all),
    ]

    @Test("each subject gets exactly its permission on public and private repositories", arguments: rows)
    func matrix(_ row: Row) async throws {
        try await withAccounts { stores in
            for isPrivate in [false, true] {
                let name = RepositoryName(row.repository)!
                _ = try await stores.metadata.updateRepository(name, isPrivate: isPrivate, description: nil)
                let principal: Principal? = row.subject == "anonymous" ? nil
                    : Principal(name: row.subject, isAdmin: row.subject == "root")
                let facts = try await stores.accounts.accessFacts(for: principal?.name, on: name)
                let allowed = RepositoryAction.allCases.filter { AccessPolicy.allows(principal, $0, on: name, facts: facts) }
                    .map(\.rawValue).joined(separator: ",")
                #expect(allowed == (isPrivate ? row.onPrivate : row.onPublic), "private: \(isPrivate)")
            }
        }
    }

    @Test("a missing repository and an unreadable private one look the same to outsiders")
    func noExistenceLeak() async throws {
        try await withAccounts { stores in
            let secret = RepositoryName("alice/app")!, missing = RepositoryName("alice/nothing")!
            _ = try await stores.metadata.updateRepository(secret, isPrivate: true, description: nil)
            for principal in [nil, Principal(name: "stranger", isAdmin: false)] {
                let a = AccessPolicy.permission(of: principal, on: secret, facts: try await stores.accounts.accessFacts(for: principal?.name, on: secret))
                let b = AccessPolicy.permission(of: principal, on: missing, facts: try await stores.accounts.accessFacts(for: principal?.name, on: missing))
                #expect(a == nil && b == nil)
            }
        }
    }

    @Test("a token's scope caps what its owner may do")
    func ceiling() async throws {
        try await withAccounts { stores in
            let name = RepositoryName("alice/app")!
            let facts = try await stores.accounts.accessFacts(for: "alice", on: name)
            #expect(AccessPolicy.permission(of: Principal(name: "alice", isAdmin: false, ceiling: .read), on: name, facts: facts) == .read)
            #expect(AccessPolicy.permission(of: Principal(name: "alice", isAdmin: false, ceiling: .write), on: name, facts: facts) == .write)
            #expect(AccessPolicy.permission(of: Principal(name: "root", isAdmin: true, ceiling: .read), on: name, facts: facts) == .read)
            #expect(!AccessPolicy.allows(Principal(name: "alice", isAdmin: false, ceiling: .read), .push, on: name, facts: facts))
        }
    }

    @Test("one page of facts agrees with the facts of each repository, for every subject")
    func factsPage() async throws {
        try await withAccounts { stores in
            _ = try await stores.metadata.updateRepository(RepositoryName("alice/app")!, isPrivate: true, description: nil)
            _ = try await stores.metadata.updateRepository(RepositoryName("acmeorg/tool")!, isPrivate: true, description: nil)
            for subject in [nil, "alice", "stranger", "reader", "teamwrite", "owner", "root"] as [String?] {
                let page = try await stores.accounts.accessFacts(for: subject, after: nil, limit: 100)
                #expect(page.map(\.0.value) == ["acmeorg/other", "acmeorg/tool", "alice/app", "alice/other", "library/nginx"])
                for (name, facts) in page {
                    #expect(facts == (try await stores.accounts.accessFacts(for: subject, on: name)), "\(subject ?? "anonymous") on \(name)")
                }
            }
        }
    }

    static let password = Principal(name: "alice", isAdmin: false)
    static let readToken = Principal(name: "alice", isAdmin: false, ceiling: .read)
    static let writeToken = Principal(name: "alice", isAdmin: false, ceiling: .write)
    static let fullToken = Principal(name: "alice", isAdmin: false, ceiling: .admin)
    static let adminPassword = Principal(name: "root", isAdmin: true)
    static let adminWriteToken = Principal(name: "root", isAdmin: true, ceiling: .write)
    static let adminFullToken = Principal(name: "root", isAdmin: true, ceiling: .admin)

    @Test("account actions: settings and tokens need the password; organizations and administration a full-scope credential")
    func accountActions() {
        let cases: [(Principal?, String)] = [
            (nil, ""),
            (Self.password, "changeSettings,manageTokens,createOrganization"),
            (Self.readToken, ""),
            (Self.writeToken, ""),
            (Self.fullToken, "createOrganization"),
            (Self.adminPassword, "changeSettings,manageTokens,createOrganization,administerServer"),
            (Self.adminWriteToken, ""),
            (Self.adminFullToken, "createOrganization,administerServer"),
        ]
        for (principal, expected) in cases {
            let allowed = AccountAction.allCases.filter { AccessPolicy.allows(principal, $0) }.map(\.rawValue).joined(separator: ",")
            #expect(allowed == expected, "\(String(describing: principal))")
        }
    }

    @Test("organization actions: owners manage, members view, outsiders nothing; token scopes cap managing")
    func organizationActions() async throws {
        try await withAccounts { stores in
            let cases: [(String, Permission?, Bool, String)] = [
                ("owner", nil, false, "view,manage"),
                ("owner", .admin, false, "view,manage"),
                ("owner", .write, false, "view"),
                ("teamread", nil, false, "view"),
                ("stranger", nil, false, ""),
                ("root", nil, true, "view,manage"),
                ("root", .read, true, "view"),
            ]
            for (subject, ceiling, isAdmin, expected) in cases {
                let principal = Principal(name: subject, isAdmin: isAdmin, ceiling: ceiling)
                let facts = try await stores.accounts.organizationFacts(for: subject, on: "acmeorg")
                let allowed = OrganizationAction.allCases.filter { AccessPolicy.allows(principal, $0, facts: facts) }
                    .map(\.rawValue).joined(separator: ",")
                #expect(allowed == expected, "\(subject) with \(String(describing: ceiling))")
            }
            let missing = try await stores.accounts.organizationFacts(for: "root", on: "nosuchorg")
            #expect(!AccessPolicy.allows(Principal(name: "root", isAdmin: true), .view, facts: missing))
            #expect(!AccessPolicy.allows(nil, .view, facts: try await stores.accounts.organizationFacts(for: "owner", on: "acmeorg")))
        }
    }

    @Test("registry token actions name the repository action they need")
    func tokenActions() {
        #expect(RepositoryAction(tokenAction: "pull") == .pull)
        #expect(RepositoryAction(tokenAction: "push") == .push)
        #expect(RepositoryAction(tokenAction: "delete") == .delete)
        #expect(RepositoryAction(tokenAction: "*") == .manage)
        #expect(RepositoryAction(tokenAction: "fly") == nil)
    }

    /// alice owns alice/app and alice/other; reader/writer/manager collaborate on alice/app;
    /// acmeorg (owner: owner) has teams with read/write/admin on acmeorg/tool; root is a server admin.
    func withAccounts(_ body: (Stores) async throws -> Void) async throws {
        for database in TestDatabase.available {
            try await database.withFreshDatabase { access in try await withAccounts(on: access, body) }
        }
    }

    func withAccounts(on access: any SQLDatabaseAccess, _ body: (Stores) async throws -> Void) async throws {
        let stores = try await Stores.open(access)
        let store = stores.accounts
        for user in ["alice", "stranger", "reader", "writer", "manager", "teamread", "teamwrite", "teamadmin", "owner", "root"] {
            try await store.createAccount(Account(name: user, kind: .user, isAdmin: user == "root"))
        }
        try await store.createOrganization("acmeorg", owner: "owner")
        for name in ["alice/app", "alice/other", "acmeorg/tool", "acmeorg/other", "library/nginx"] {
            _ = try await stores.metadata.createRepository(RepositoryName(name)!, isPrivate: false, description: "")
        }
        let app = RepositoryName("alice/app")!
        try await store.setCollaborator("reader", permission: .read, on: app)
        try await store.setCollaborator("writer", permission: .write, on: app)
        try await store.setCollaborator("manager", permission: .admin, on: app)
        for (team, permission) in [("readers", Permission.read), ("writers", .write), ("admins", .admin)] {
            try await store.createTeam(TeamName(team)!, in: "acmeorg")
            try await store.setTeamPermission(permission, on: "acmeorg/tool", for: TeamName(team)!, in: "acmeorg")
        }
        try await store.addTeamMember("teamread", to: TeamName("readers")!, in: "acmeorg")
        try await store.addTeamMember("teamwrite", to: TeamName("writers")!, in: "acmeorg")
        try await store.addTeamMember("teamadmin", to: TeamName("admins")!, in: "acmeorg")
        try await body(stores)
    }
}
