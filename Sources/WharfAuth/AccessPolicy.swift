import WharfCore
import WharfMetadata

/// Who is asking: an authenticated account, limited by the credential it used.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var isAdmin: Bool
    /// The most the credential allows (a personal access token's scope); nil for a password.
    public var ceiling: Permission?
    /// The credential reads public repositories only (a `public-read` token).
    public var publicOnly: Bool

    public init(name: String, isAdmin: Bool, ceiling: Permission? = nil, publicOnly: Bool = false) {
        self.name = name
        self.isAdmin = isAdmin
        self.ceiling = ceiling
        self.publicOnly = publicOnly
    }

    /// An account acting through a token of `scope`.
    public init(account: Account, scope: TokenScope) {
        self.init(name: account.name, isAdmin: account.isAdmin, ceiling: scope.ceiling, publicOnly: scope == .publicRead)
    }

    /// Whether the credential is a password (or a session made from one), not a scoped token.
    public var usedPassword: Bool { ceiling == nil }
}

/// Something done to one's own account or to the server rather than to a repository.
public enum AccountAction: String, Sendable, CaseIterable {
    /// Change one's email, password or defaults.
    case changeSettings
    /// Create, list or revoke one's personal access tokens.
    case manageTokens
    /// Create an organization (and become its owner).
    case createOrganization
    /// Manage users, plans and limits of the whole server.
    case administerServer
}

/// Something done to an organization.
public enum OrganizationAction: String, Sendable, CaseIterable {
    /// See its settings and teams.
    case view
    /// Change settings, teams, members and team permissions.
    case manage
}

/// The one place that decides access. Every route and service asks it; nothing else decides.
///
/// Repositories:
/// - Everyone, anonymous included, may read an existing public repository.
/// - Administrators may do anything; a user is admin of their own namespace; an organization's
///   owners are admins of its repositories.
/// - Collaborators and team members get the permission they were given.
/// - A credential with a scope (personal access token) never exceeds that scope; a public-read
///   one reads what anonymous may.
/// A missing repository and a private one the subject cannot read give the same answer: no permission.
///
/// Accounts and organizations:
/// - One's own settings and tokens need the password: a token cannot mint or revoke tokens, nor
///   change the password that would lock its owner out.
/// - Creating and managing organizations and administering the server need the password or a
///   token with the widest scope (read-write-delete).
/// - Owners (and administrators) manage an organization; its members may view it.
public enum AccessPolicy {
    /// The permission `principal` (nil: anonymous) holds on `repository`, or nil for none.
    public static func permission(of principal: Principal?, on repository: RepositoryName, facts: AccessFacts) -> Permission? {
        var best: Permission? = facts.exists && !facts.isPrivate ? .read : nil
        guard let principal, !principal.publicOnly else { return best }
        if principal.isAdmin || (repository.namespace == principal.name && facts.namespaceKind != .organization)
            || facts.isOrganizationOwner {
            best = .admin
        }
        for case let granted? in [facts.collaboratorPermission, facts.teamPermission] {
            best = max(best ?? granted, granted)
        }
        if let ceiling = principal.ceiling, let current = best { best = min(current, ceiling) }
        return best
    }

    /// Whether `principal` may do `action` on `repository`.
    public static func allows(_ principal: Principal?, _ action: RepositoryAction, on repository: RepositoryName, facts: AccessFacts) -> Bool {
        guard let permission = permission(of: principal, on: repository, facts: facts) else { return false }
        return permission >= action.requiredPermission
    }

    /// Whether `principal` may do `action` on their own account or the server.
    public static func allows(_ principal: Principal?, _ action: AccountAction) -> Bool {
        guard let principal else { return false }
        switch action {
        case .changeSettings, .manageTokens:
            return principal.usedPassword
        case .createOrganization:
            return fullPower(principal)
        case .administerServer:
            return principal.isAdmin && fullPower(principal)
        }
    }

    /// Whether `principal` may do `action` on an organization.
    public static func allows(_ principal: Principal?, _ action: OrganizationAction, facts: OrganizationFacts) -> Bool {
        guard let principal, facts.exists else { return false }
        switch action {
        case .view:
            return principal.isAdmin || facts.isMember || facts.isOwner
        case .manage:
            return (principal.isAdmin || facts.isOwner) && fullPower(principal)
        }
    }

    /// A password, or a token whose scope is everything.
    private static func fullPower(_ principal: Principal) -> Bool {
        principal.ceiling == nil || principal.ceiling == .admin
    }
}

extension RepositoryAction {
    /// The action a registry token scope names (`pull`, `push`, `delete`, `*`), nil for unknown ones.
    public init?(tokenAction: String) {
        switch tokenAction {
        case "pull": self = .pull
        case "push": self = .push
        case "delete": self = .delete
        case "*": self = .manage
        default: return nil
        }
    }
}
