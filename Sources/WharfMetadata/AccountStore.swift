import Foundation
import WharfCore

/// Accounts (users and organizations), their access tokens, teams, collaborators and
/// repository visibility: everything the access policy reads.
public protocol AccountStore: Sendable {
    // MARK: Accounts
    /// Creates the account; throws `StoreError.exists` when the name is taken.
    func createAccount(_ account: Account) async throws
    func account(_ name: String) async throws -> Account?
    /// Inside a `Stores.transaction`: the account, held until commit so that checks against it
    /// (plan limits) cannot race (PostgreSQL `FOR UPDATE`; SQLite's single writer already holds everything).
    func lockAccount(_ name: String) async throws -> Account?
    /// Every account, users and organizations, by name.
    func accounts() async throws -> [Account]
    /// Applies the non-nil changes; false when the account does not exist.
    func updateAccount(_ name: String, _ changes: AccountChanges) async throws -> Bool
    /// How many enabled administrators exist.
    func adminCount() async throws -> Int

    // MARK: Tokens
    func createToken(_ token: AccessToken, hash: String) async throws
    /// The live (not expired) token with this secret hash.
    func token(hash: String, at time: Date) async throws -> AccessToken?
    func tokens(of account: String) async throws -> [AccessToken]
    /// The account's token with this id, active or not.
    func token(id: String, of account: String) async throws -> AccessToken?
    /// Renames and/or (de)activates the account's token; nil when there is none with that id.
    func updateToken(_ id: String, of account: String, name: String?, isActive: Bool?) async throws -> AccessToken?
    /// Deletes the account's token; false when there is none with that id.
    func revokeToken(_ id: String, of account: String) async throws -> Bool
    func touchToken(_ id: String, at time: Date) async throws

    // MARK: Collaborators
    func setCollaborator(_ account: String, permission: Permission, on repository: RepositoryName) async throws
    func removeCollaborator(_ account: String, from repository: RepositoryName) async throws -> Bool
    func collaborators(of repository: RepositoryName) async throws -> [(account: String, permission: Permission)]

    // MARK: Organizations and teams
    /// Creates an organization account with an `owners` team whose only member is `owner`.
    func createOrganization(_ name: String, owner: String) async throws
    /// Organizations `account` belongs to (through any team).
    func organizations(of account: String) async throws -> [String]
    func createTeam(_ team: TeamName, in organization: String) async throws
    func deleteTeam(_ team: TeamName, in organization: String) async throws -> Bool
    func teams(in organization: String) async throws -> [Team]
    func addTeamMember(_ account: String, to team: TeamName, in organization: String) async throws
    func removeTeamMember(_ account: String, from team: TeamName, in organization: String) async throws -> Bool
    func setTeamPermission(_ permission: Permission, on repository: String, for team: TeamName, in organization: String) async throws
    func removeTeamPermission(on repository: String, for team: TeamName, in organization: String) async throws -> Bool

    // MARK: Policy input
    /// What the access policy needs to know about `subject` and `repository`, in one read.
    func accessFacts(for subject: String?, on repository: RepositoryName) async throws -> AccessFacts
    /// The facts of `subject` on every repository in name order strictly after `last`, at most `limit`, in one read.
    func accessFacts(for subject: String?, after last: String?, limit: Int) async throws -> [(RepositoryName, AccessFacts)]
    /// The facts of `subject` on each of the namespace's private repositories, in one read.
    func privateAccessFacts(for subject: String?, in namespace: String) async throws -> [(RepositoryName, AccessFacts)]
    /// The facts of `subject` on each of `repositories` that exists, in one read.
    func accessFacts(for subject: String?, on repositories: [RepositoryName]) async throws -> [(RepositoryName, AccessFacts)]
    /// What the access policy needs to know about `subject` and `organization`.
    func organizationFacts(for subject: String, on organization: String) async throws -> OrganizationFacts
}

/// Errors of the account store that callers turn into client errors.
public enum StoreError: Error, Equatable {
    case exists
    case notFound
    /// Garbage collection is deleting the blob's bytes right now: link it again once it is gone.
    case blobBeingDeleted
    /// Something a change refers to was deleted (by garbage collection) since it was checked.
    case referenceGone(String)
}

/// A user or an organization.
public struct Account: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case user
        case organization
    }

    public var name: String
    public var kind: Kind
    public var email: String?
    /// bcrypt hash; nil for organizations.
    public var passwordHash: String?
    public var isAdmin: Bool
    public var disabled: Bool
    /// Private repositories allowed; nil means the server's default plan.
    public var privateRepoLimit: Int?
    /// Whether new repositories in this namespace start private.
    public var defaultPrivate: Bool
    public var createdAt: Date
    /// Manifest pulls allowed per pull-limit window; nil means the server's default for accounts.
    public var pullLimit: Int?

    public init(name: String, kind: Kind, email: String? = nil, passwordHash: String? = nil, isAdmin: Bool = false,
                disabled: Bool = false, privateRepoLimit: Int? = nil, defaultPrivate: Bool = false, createdAt: Date = Date(),
                pullLimit: Int? = nil) {
        self.pullLimit = pullLimit
        self.name = name
        self.kind = kind
        self.email = email
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.disabled = disabled
        self.privateRepoLimit = privateRepoLimit
        self.defaultPrivate = defaultPrivate
        self.createdAt = createdAt
    }
}

/// Changes to an account; nil fields stay as they are.
public struct AccountChanges: Sendable {
    public var passwordHash: String?
    public var email: String?
    public var isAdmin: Bool?
    public var disabled: Bool?
    /// `.some(nil)` resets to the server default.
    public var privateRepoLimit: Int??
    public var defaultPrivate: Bool?
    /// `.some(nil)` resets to the server default.
    public var pullLimit: Int??

    public init(passwordHash: String? = nil, email: String? = nil, isAdmin: Bool? = nil, disabled: Bool? = nil,
                privateRepoLimit: Int?? = nil, defaultPrivate: Bool? = nil, pullLimit: Int?? = nil) {
        self.pullLimit = pullLimit
        self.passwordHash = passwordHash
        self.email = email
        self.isAdmin = isAdmin
        self.disabled = disabled
        self.privateRepoLimit = privateRepoLimit
        self.defaultPrivate = defaultPrivate
    }
}

/// A personal access token, or a refresh token handed to `docker login`.
public struct AccessToken: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case personal
        /// Issued by the token endpoint with `offline_token=true`; used by docker as its identity token.
        case refresh
    }

    public var id: String
    public var account: String
    public var name: String
    public var kind: Kind
    public var scope: TokenScope
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    /// An inactive token authenticates nothing until it is activated again.
    public var isActive: Bool
    /// The address and user agent of the request that created it.
    public var creatorAddress: String?
    public var creatorAgent: String?

    public init(id: String, account: String, name: String, kind: Kind, scope: TokenScope,
                createdAt: Date = Date(), lastUsedAt: Date? = nil, expiresAt: Date? = nil, isActive: Bool = true,
                creatorAddress: String? = nil, creatorAgent: String? = nil) {
        self.isActive = isActive
        self.creatorAddress = creatorAddress
        self.creatorAgent = creatorAgent
        self.id = id
        self.account = account
        self.name = name
        self.kind = kind
        self.scope = scope
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
    }
}

/// What the access policy needs to know about one subject and one organization.
public struct OrganizationFacts: Sendable, Equatable {
    /// An organization account of that name exists.
    public var exists: Bool
    /// The subject is in the organization's owners team.
    public var isOwner: Bool
    /// The subject is in any of its teams.
    public var isMember: Bool

    public init(exists: Bool = false, isOwner: Bool = false, isMember: Bool = false) {
        self.exists = exists
        self.isOwner = isOwner
        self.isMember = isMember
    }
}

/// A repository's hub-level facts.
public struct RepositoryInfo: Sendable, Equatable {
    public var name: RepositoryName
    public var isPrivate: Bool
    /// The short description (one line).
    public var description: String
    /// The README, in Markdown.
    public var fullDescription: String
    public var createdAt: Date
    /// The last push of a tag, or change of its description or visibility.
    public var updatedAt: Date
    /// Manifest GETs counted so far (flushed from memory in batches).
    public var pullCount: Int64
    public var starCount: Int64

    public init(name: RepositoryName, isPrivate: Bool, description: String, fullDescription: String = "",
                createdAt: Date, updatedAt: Date? = nil, pullCount: Int64 = 0, starCount: Int64 = 0) {
        self.name = name
        self.isPrivate = isPrivate
        self.description = description
        self.fullDescription = fullDescription
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.pullCount = pullCount
        self.starCount = starCount
    }
}

/// A team of an organization.
public struct Team: Sendable, Equatable {
    public var name: String
    public var members: [String]
    public var repositories: [String: Permission]

    public init(name: String, members: [String], repositories: [String: Permission]) {
        self.name = name
        self.members = members
        self.repositories = repositories
    }
}

/// Everything the access policy reads about one subject and one repository.
public struct AccessFacts: Sendable, Equatable {
    /// The repository exists.
    public var exists: Bool
    public var isPrivate: Bool
    /// The namespace's account kind; nil when no account owns the namespace.
    public var namespaceKind: Account.Kind?
    /// The subject belongs to the namespace organization's owners team.
    public var isOrganizationOwner: Bool
    /// The subject's permission as a collaborator, if any.
    public var collaboratorPermission: Permission?
    /// The best permission any of the subject's teams has on the repository.
    public var teamPermission: Permission?

    public init(exists: Bool = false, isPrivate: Bool = false, namespaceKind: Account.Kind? = nil, isOrganizationOwner: Bool = false,
                collaboratorPermission: Permission? = nil, teamPermission: Permission? = nil) {
        self.exists = exists
        self.isPrivate = isPrivate
        self.namespaceKind = namespaceKind
        self.isOrganizationOwner = isOrganizationOwner
        self.collaboratorPermission = collaboratorPermission
        self.teamPermission = teamPermission
    }
}
