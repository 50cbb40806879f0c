import WharfAuth
import WharfCore
import WharfMetadata

/// Repositories as the hub sees them: creation, visibility within the plan, description,
/// collaborators, deletion, and the catalog each caller may see. A repository the caller may
/// not read is "not found", exactly like a missing one.
public struct RepositoryService: Sendable {
    let stores: Stores
    let access: Access
    let settings: HubSettings
    /// Where events go, with their webhook deliveries.
    var outbox: WebhookOutbox { WebhookOutbox(settings: settings) }

    /// The longest description, in characters (as Docker Hub's).
    public static let maxDescription = 100
    /// The longest README (`full_description`), in characters (as Docker Hub's).
    public static let maxFullDescription = 25_000

    /// A repository and the caller's permission on it.
    public struct Listed: Sendable {
        public let info: RepositoryInfo
        public let permission: Permission
    }

    public func create(namespace: String, name raw: String, isPrivate: Bool?, description: String?, fullDescription: String? = nil,
                       by principal: Principal?) async throws -> Listed {
        guard let principal else { throw HubError.unauthenticated }
        let name = try AccountRules.repositoryName(namespace: namespace, name: raw)
        let description = try Self.description(description ?? "")
        let fullDescription = try fullDescription.map(Self.fullDescription)
        guard try await access.allows(principal, .push, on: name) else {
            throw HubError.forbidden("you may not create repositories in \(namespace)")
        }
        let settings = self.settings
        let actor = principal.name
        let now = stores.clock.now
        let info = try await stores.transaction { tx in
            let owner = try await tx.accounts.lockAccount(namespace)
            let makePrivate = isPrivate ?? owner?.defaultPrivate ?? false
            if makePrivate { try await PlanLimit.checkPrivate(name, in: tx, settings: settings) }
            var info: RepositoryInfo
            do {
                info = try await tx.metadata.createRepository(name, isPrivate: makePrivate, description: description)
            } catch StoreError.exists {
                throw HubError.conflict("name", "the repository \(name.value) exists")
            }
            if let fullDescription {
                info = try await tx.metadata.updateRepository(name, isPrivate: nil, description: nil, fullDescription: fullDescription) ?? info
            }
            try await outbox.publish(HubEvent(kind: .repositoryCreate, repository: name, actor: actor, createdAt: now), in: tx)
            return info
        }
        return Listed(info: info, permission: .admin)
    }

    /// The namespace's repositories the caller may read.
    public func list(namespace: String, by principal: Principal?) async throws -> [Listed] {
        guard AccountName.isWellFormed(namespace) else { return [] }
        var result: [Listed] = []
        for info in try await stores.metadata.repositories(in: namespace) {
            if let permission = try await access.permission(of: principal, on: info.name) {
                result.append(Listed(info: info, permission: permission))
            }
        }
        return result
    }

    public func show(_ name: RepositoryName, by principal: Principal?) async throws -> Listed {
        let permission = try await access.require(principal, .pull, on: name)
        guard let info = try await stores.metadata.repositoryInfo(name) else { throw HubError.notFound("repository") }
        return Listed(info: info, permission: permission)
    }

    /// Changes visibility (within the plan), description and/or README.
    public func update(_ name: RepositoryName, isPrivate: Bool?, description: String?, fullDescription: String? = nil,
                       by principal: Principal?) async throws -> Listed {
        let permission = try await access.require(principal, .manage, on: name)
        let description = try description.map(Self.description)
        let fullDescription = try fullDescription.map(Self.fullDescription)
        let settings = self.settings
        let actor = principal?.name
        let now = stores.clock.now
        let info = try await stores.transaction { tx in
            guard let before = try await tx.metadata.repositoryInfo(name) else { throw HubError.notFound("repository") }
            if isPrivate == true, !before.isPrivate { try await PlanLimit.checkPrivate(name, in: tx, settings: settings) }
            guard let after = try await tx.metadata.updateRepository(name, isPrivate: isPrivate, description: description,
                                                                     fullDescription: fullDescription) else {
                throw HubError.notFound("repository")
            }
            if after.isPrivate != before.isPrivate {
                try await outbox.publish(HubEvent(kind: .repositoryVisibility, repository: name, actor: actor, createdAt: now), in: tx)
            }
            return after
        }
        return Listed(info: info, permission: permission)
    }

    /// Deletes the repository with its tags, manifests, links and grants (blob bytes wait for GC).
    public func delete(_ name: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .manage, on: name)
        let actor = principal?.name
        let now = stores.clock.now
        try await stores.transaction { tx in
            guard try await tx.metadata.repositoryExists(name) else { throw HubError.notFound("repository") }
            // Published first, so its webhooks' payloads still describe the repository; then they retire.
            try await outbox.publish(HubEvent(kind: .repositoryDelete, repository: name, actor: actor, createdAt: now), in: tx)
            try await tx.webhooks.retireWebhooks(of: name, at: now)
            guard try await tx.metadata.deleteRepository(name) else { throw HubError.notFound("repository") }
        }
    }

    public func collaborators(of name: RepositoryName, by principal: Principal?) async throws -> [(account: String, permission: Permission)] {
        try await access.require(principal, .manage, on: name)
        return try await stores.accounts.collaborators(of: name)
    }

    public func setCollaborator(_ username: String, permission raw: String, on name: RepositoryName, by principal: Principal?) async throws -> Permission {
        try await access.require(principal, .manage, on: name)
        let permission = try AccountRules.permission(raw)
        guard let account = try await stores.accounts.account(username), account.kind == .user else {
            throw HubError.notFound("user \(username)")
        }
        try await stores.transaction { tx in
            try await tx.accounts.setCollaborator(account.name, permission: permission, on: name)
            try await AuditTrail.record("collaborator_set", actor: principal?.name, namespace: nil, repository: name, target: account.name,
                                        details: ["permission": raw], in: tx)
        }
        return permission
    }

    public func removeCollaborator(_ username: String, from name: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .manage, on: name)
        try await stores.transaction { tx in
            guard try await tx.accounts.removeCollaborator(username, from: name) else { throw HubError.notFound("collaborator") }
            try await AuditTrail.record("collaborator_remove", actor: principal?.name, namespace: nil, repository: name, target: username, in: tx)
        }
    }

    /// Repository names the caller may pull, in order, strictly after `last`, at most `limit`.
    public func catalog(for principal: Principal?, after last: String?, limit: Int) async throws -> [RepositoryName] {
        var names: [RepositoryName] = []
        var cursor = last
        let batch = max(100, min(limit, 1000))
        while names.count < limit {
            let page = try await stores.accounts.accessFacts(for: principal?.name, after: cursor, limit: batch)
            for (name, facts) in page where AccessPolicy.allows(principal, .pull, on: name, facts: facts) {
                names.append(name)
                if names.count == limit { break }
            }
            guard page.count == batch, let next = page.last?.0.value else { break }
            cursor = next
        }
        return names
    }

    /// Refuses early (before any byte is uploaded) a push that would create a private repository beyond the plan.
    /// The push's commit checks again, in its transaction.
    public func checkPushCreates(_ name: RepositoryName) async throws {
        let settings = self.settings
        guard try await !stores.metadata.repositoryExists(name) else { return }
        try await stores.transaction(.relaxed) { tx in _ = try await PlanLimit.checkPushed(name, in: tx, settings: settings) }
    }

    static func description(_ raw: String) throws -> String {
        guard raw.unicodeScalars.count <= maxDescription, !raw.unicodeScalars.contains("\u{0}") else {
            throw HubError.invalid("description", "description must be at most \(maxDescription) characters, without NUL")
        }
        return raw
    }

    static func fullDescription(_ raw: String) throws -> String {
        guard raw.unicodeScalars.count <= maxFullDescription, !raw.unicodeScalars.contains("\u{0}") else {
            throw HubError.invalid("full_description", "full_description must be at most \(maxFullDescription) characters, without NUL")
        }
        return raw
    }
}
