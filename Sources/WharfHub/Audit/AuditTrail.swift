import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Where the action being audited comes from: the request's client address, or the part of the
/// server acting on its own. Bound by the HTTP layer per request and by background jobs.
public enum AuditContext {
    /// The client address of the request being served.
    @TaskLocal public static var clientAddress: String?
    /// The server's own actor (`system:gc`, `system:retention`) for actions no account asked for.
    @TaskLocal public static var systemActor: String?
}

/// Writes audit entries, always inside the transaction of the change they describe.
enum AuditTrail {
    /// Records `action` by `actor` (or the system actor of the context) in `tx`.
    static func record(_ action: String, actor: String?, namespace: String?, repository: RepositoryName? = nil, target: String? = nil,
                       details: [String: String] = [:], in tx: Stores) async throws {
        try await tx.audit.record(AuditEntry(
            at: tx.clock.now, actor: actor ?? AuditContext.systemActor, action: action,
            namespace: namespace ?? repository.map { String($0.namespace) }, repository: repository?.value, target: target,
            clientAddress: AuditContext.clientAddress, details: details
        ))
    }

    /// Records a login to `username` through `via` (`docker`, `hub-api`, `website`), succeeded or
    /// not (`reason`), in its own transaction. An entry for a name no account has is for administrators only.
    static func login(_ username: String, succeeded: Bool, via: String, reason: String? = nil, stores: Stores) async throws {
        let known = succeeded ? true : AccountName.isWellFormed(username) ? try await stores.accounts.account(username) != nil : false
        var details = ["via": via]
        if let reason { details["reason"] = reason }
        let entryDetails = details
        try await stores.transaction { tx in
            // The name as typed, without control characters (PostgreSQL text refuses NUL).
            let typed = String(String.UnicodeScalarView(username.unicodeScalars.filter { $0.properties.generalCategory != .control }).prefix(100))
            try await record(succeeded ? "login" : "login_failed", actor: known ? username : nil, namespace: known ? username : nil,
                             target: typed, details: entryDetails, in: tx)
        }
    }

    /// Runs a login's credential check and audits its outcome.
    static func auditingLogin(_ username: String, via: String, stores: Stores, _ check: () async throws -> Principal) async throws -> Principal {
        do {
            let principal = try await check()
            try await login(principal.name, succeeded: true, via: via, stores: stores)
            return principal
        } catch let failure as Authenticator.Failure {
            let reason = if case .throttled = failure { "throttled" } else { "invalid credentials" }
            try await login(username, succeeded: false, via: via, reason: reason, stores: stores)
            throw failure
        } catch let failure as RegistryError where failure.code == .unauthorized || failure.code == .tooManyRequests {
            // The registry's token endpoint words the same failures as OCI errors.
            try await login(username, succeeded: false, via: via,
                            reason: failure.code == .tooManyRequests ? "throttled" : "invalid credentials", stores: stores)
            throw failure
        }
    }

    /// Records an event (push, deletions, repository changes) as an entry.
    static func record(_ event: HubEvent, in tx: Stores) async throws {
        var details: [String: String] = [:]
        if let digest = event.digest { details["digest"] = digest.description }
        try await record(event.kind.rawValue, actor: event.actor, namespace: nil, repository: event.repository,
                         target: event.tag ?? event.digest?.description, details: details, in: tx)
    }
}

/// Reading the audit log: administrators read everything, others the entries of the namespaces
/// they own (their own, and organizations they are owners of).
public struct AuditService: Sendable {
    let stores: Stores

    public init(stores: Stores) {
        self.stores = stores
    }

    /// A page (from 1) of entries matching `filter`, newest first, and how many match.
    public func entries(_ filter: AuditFilter, page: Int, pageSize: Int, by principal: Principal?) async throws -> (entries: [AuditEntry], total: Int) {
        guard let principal else { throw HubError.unauthenticated }
        guard page >= 1 else { throw HubError.invalid("page", "page must be 1 or more") }
        guard (1...100).contains(pageSize) else { throw HubError.invalid("page_size", "page_size must be from 1 to 100") }
        var filter = filter
        if !principal.isAdmin {
            var owned = [principal.name]
            for organization in try await stores.accounts.organizations(of: principal.name)
            where try await stores.accounts.organizationFacts(for: principal.name, on: organization).isOwner {
                owned.append(organization)
            }
            filter.namespaces = owned
        }
        return try await stores.audit.entries(filter, offset: (page - 1) * pageSize, limit: pageSize)
    }

    /// Runs a `docker login`'s (or other registry client's) credential check and audits its outcome.
    public func auditingLogin(_ username: String, via: String, _ check: () async throws -> Principal) async throws -> Principal {
        try await AuditTrail.auditingLogin(username, via: via, stores: stores, check)
    }
}
