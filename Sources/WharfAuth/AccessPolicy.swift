import WharfCore
import WharfMetadata

/// Who is asking: an authenticated account, limited by the credential it used.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var isAdmin: Bool
    /// The most the credential allows (a personal access token's scope); nil for a password.
    public var ceiling: Permission?

    public init(name: String, isAdmin: Bool, ceiling: Permission? = nil) {
        self.name = name
        self.isAdmin = isAdmin
        self.ceiling = ceiling
    }
}

/// The one function that decides access to repositories. Every route asks it; nothing else decides.
///
/// - Everyone, anonymous included, may read an existing public repository.
/// - Administrators may do anything; a user is admin of their own namespace; an organization's
///   owners are admins of its repositories.
/// - Collaborators and team members get the permission they were given.
/// - A credential with a scope (personal access token) never exceeds that scope.
/// A missing repository and a private one the subject cannot read give the same answer: no permission.
public enum AccessPolicy {
    /// The permission `principal` (nil: anonymous) holds on `repository`, or nil for none.
    public static func permission(of principal: Principal?, on repository: RepositoryName, facts: AccessFacts) -> Permission? {
        var best: Permission? = facts.exists && !facts.isPrivate ? .read : nil
        guard let principal else { return best }
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
}
