import WharfAuth
import WharfCore
import WharfMetadata

/// Asks `AccessPolicy` with the facts it needs, and turns its answers into the errors every
/// surface shares: outsiders of a private repository or organization get "not found", members
/// who lack the permission get "forbidden".
public struct Access: Sendable {
    let accounts: any AccountStore

    /// The permission `principal` holds on `repository`; nil when none (or it does not exist).
    public func permission(of principal: Principal?, on repository: RepositoryName) async throws -> Permission? {
        AccessPolicy.permission(of: principal, on: repository, facts: try await accounts.accessFacts(for: principal?.name, on: repository))
    }

    /// Whether `principal` may do `action` on `repository`.
    public func allows(_ principal: Principal?, _ action: RepositoryAction, on repository: RepositoryName) async throws -> Bool {
        AccessPolicy.allows(principal, action, on: repository, facts: try await accounts.accessFacts(for: principal?.name, on: repository))
    }

    /// The caller's permission on an existing repository they may do `action` on.
    @discardableResult
    public func require(_ principal: Principal?, _ action: RepositoryAction, on repository: RepositoryName) async throws -> Permission {
        let facts = try await accounts.accessFacts(for: principal?.name, on: repository)
        guard facts.exists, let permission = AccessPolicy.permission(of: principal, on: repository, facts: facts) else {
            throw HubError.notFound("repository")
        }
        guard permission >= action.requiredPermission else {
            throw HubError.forbidden("\(action.rawValue) on \(repository.value) needs the \(action.requiredPermission) permission")
        }
        return permission
    }

    /// Throws unless `principal` may do `action` on their account or the server.
    public func require(_ principal: Principal?, _ action: AccountAction) throws {
        guard let principal else { throw HubError.unauthenticated }
        guard AccessPolicy.allows(principal, action) else {
            switch action {
            case .changeSettings, .manageTokens:
                throw HubError.forbidden("access tokens cannot change account settings or tokens; use the password")
            case .createOrganization:
                throw HubError.forbidden("this access token's scope does not allow creating organizations")
            case .administerServer:
                throw HubError.forbidden(principal.isAdmin ? "this access token's scope does not allow administration" : "only administrators may do this")
            }
        }
    }

    /// Throws unless `principal` may do `action` on `organization`.
    public func require(_ principal: Principal?, _ action: OrganizationAction, organization: String) async throws {
        guard let principal else { throw HubError.unauthenticated }
        let facts = try await accounts.organizationFacts(for: principal.name, on: organization)
        guard AccessPolicy.allows(principal, action, facts: facts) else {
            let visible = AccessPolicy.allows(principal, .view, facts: facts)
            guard visible else { throw HubError.notFound("organization") }
            throw HubError.forbidden(principal.isAdmin || facts.isOwner
                ? "this access token's scope does not allow managing organizations"
                : "only owners of \(organization) may do this")
        }
    }
}
