import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Retention policies: which tags a repository keeps, the rest deleted when the policy runs (on
/// demand, or by `RetentionJob`). A repository's own policy wins over its namespace's. A tag is
/// kept when any rule keeps it, and always when an immutable tag rule protects it. A run decides and deletes in one transaction, so a dry run
/// lists exactly what a run at that moment deletes.
public struct RetentionService: Sendable {
    let registry: Registry
    let access: Access

    public init(registry: Registry, access: Access) {
        self.registry = registry
        self.access = access
    }

    private var stores: Stores { registry.stores }

    /// The most tags `keep_last` may name, patterns per policy, and days `max_age_days` may say.
    static let limits = (keepLast: 100_000, patterns: 50, days: 36_500)

    /// The repository's policy (nil: none), for those who may read the repository.
    public func policy(of repository: RepositoryName, by principal: Principal?) async throws -> RetentionPolicy? {
        try await access.require(principal, .pull, on: repository)
        return try await stores.policies.retentionPolicy(of: repository)
    }

    /// Sets (nil: removes) the repository's policy; repository admins only.
    public func setPolicy(_ policy: RetentionPolicy?, of repository: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .manage, on: repository)
        if let policy { try Self.validate(policy) }
        try await stores.transaction { tx in
            try await tx.policies.setRetentionPolicy(policy, of: repository)
            try await AuditTrail.record(policy == nil ? "retention_remove" : "retention_set", actor: principal?.name, namespace: nil,
                                        repository: repository, details: policy.map(Self.details) ?? [:], in: tx)
        }
    }

    static func validate(_ policy: RetentionPolicy) throws {
        if let keep = policy.keepLast, !(0...limits.keepLast).contains(keep) {
            throw HubError.invalid("keep_last", "keep_last must be from 0 to \(limits.keepLast)")
        }
        if let days = policy.maxAgeDays, !(1...limits.days).contains(days) {
            throw HubError.invalid("max_age_days", "max_age_days must be from 1 to \(limits.days)")
        }
        guard policy.keepPatterns.count <= limits.patterns else {
            throw HubError.invalid("keep_patterns", "at most \(limits.patterns) keep_patterns")
        }
        for pattern in policy.keepPatterns where TagPattern(pattern) == nil {
            throw HubError.invalid("keep_patterns", "\(pattern) is not a tag pattern (letters, digits, _ . - and the wildcards * ?)")
        }
    }

    /// Applies the policy now for a repository admin (or lists what it would delete); returns the tags.
    public func run(_ repository: RepositoryName, dryRun: Bool, by principal: Principal?) async throws -> [String] {
        try await access.require(principal, .manage, on: repository)
        return try await apply(to: repository, dryRun: dryRun, actor: principal?.name)
    }

    /// Applies the repository's policy (none: deletes nothing); returns the tags deleted (or that would be).
    func apply(to repository: RepositoryName, dryRun: Bool, actor: String?) async throws -> [String] {
        struct DryRun: Error { let tags: [String] }
        let now = stores.clock.now
        let registry = self.registry
        do {
            return try await stores.transaction { tx in
                var found = try await tx.policies.retentionPolicy(of: repository)
                if found == nil { found = try await tx.policies.namespaceRetentionPolicy(of: String(repository.namespace)) }
                guard let policy = found, policy.hasRules else { return [] }
                let immutable = try await tx.policies.immutableTagPatterns(of: repository).compactMap(TagPattern.init)
                let doomed = Self.expired(try await tx.policies.pushedTags(in: repository), policy: policy, now: now)
                    .filter { tag in !immutable.contains { $0.matches(tag) } }
                if dryRun { throw DryRun(tags: doomed) }
                for name in doomed {
                    _ = try await registry.deleteTag(Tag(name)!, in: repository, by: actor, at: now, tx: tx)
                }
                return doomed
            }
        } catch let dry as DryRun {
            return dry.tags
        }
    }

    /// The namespace's policy (nil: none), for the namespace's user, its organization's members and administrators.
    public func namespacePolicy(of namespace: String, by principal: Principal?) async throws -> RetentionPolicy? {
        try await requireNamespace(namespace, by: principal, manage: false)
        return try await stores.policies.namespaceRetentionPolicy(of: namespace)
    }

    /// Sets (nil: removes) the policy of every repository of the namespace without its own; the
    /// namespace's user, its organization's owners and administrators.
    public func setNamespacePolicy(_ policy: RetentionPolicy?, of namespace: String, by principal: Principal?) async throws {
        try await requireNamespace(namespace, by: principal, manage: true)
        if let policy { try Self.validate(policy) }
        try await stores.transaction { tx in
            try await tx.policies.setNamespaceRetentionPolicy(policy, of: namespace)
            try await AuditTrail.record(policy == nil ? "retention_remove" : "retention_set", actor: principal?.name, namespace: namespace,
                                        details: policy.map(Self.details) ?? [:], in: tx)
        }
    }

    /// Applies the policies of the namespace's repositories now (or lists what they would delete).
    public func runNamespace(_ namespace: String, dryRun: Bool, by principal: Principal?) async throws -> [(repository: RepositoryName, tags: [String])] {
        try await requireNamespace(namespace, by: principal, manage: true)
        var result: [(repository: RepositoryName, tags: [String])] = []
        for info in try await stores.metadata.repositories(in: namespace) {
            let tags = try await apply(to: info.name, dryRun: dryRun, actor: principal?.name)
            if !tags.isEmpty { result.append((info.name, tags)) }
        }
        return result
    }

    /// Throws unless `principal` may read (or, with `manage`, change) the namespace's policies.
    private func requireNamespace(_ namespace: String, by principal: Principal?, manage: Bool) async throws {
        guard let principal else { throw HubError.unauthenticated }
        guard let account = try await stores.accounts.account(namespace) else { throw HubError.notFound("namespace") }
        if principal.isAdmin || principal.name == namespace { return }
        guard account.kind == .organization else { throw HubError.notFound("namespace") }
        try await access.require(principal, manage ? .manage : .view, organization: namespace)
    }

    /// A policy's rules as audit details.
    static func details(_ policy: RetentionPolicy) -> [String: String] {
        var details: [String: String] = [:]
        if let keep = policy.keepLast { details["keep_last"] = String(keep) }
        if !policy.keepPatterns.isEmpty { details["keep_patterns"] = policy.keepPatterns.joined(separator: ",") }
        if let days = policy.maxAgeDays { details["max_age_days"] = String(days) }
        return details
    }

    /// The tags no rule keeps, in the order given (newest first).
    static func expired(_ tags: [(name: String, pushedAt: Date)], policy: RetentionPolicy, now: Date) -> [String] {
        let patterns = policy.keepPatterns.compactMap(TagPattern.init)
        return tags.enumerated().compactMap { index, tag in
            let kept = (policy.keepLast.map { index < $0 } ?? false)
                || patterns.contains { $0.matches(tag.name) }
                || (policy.maxAgeDays.map { now.timeIntervalSince(tag.pushedAt) <= Double($0) * 86400 } ?? false)
            return kept ? nil : tag.name
        }.sorted()
    }
}
