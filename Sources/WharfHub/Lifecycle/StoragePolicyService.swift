import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Immutable tag rules of repositories and storage quotas of namespaces: who may read and set
/// them, and what a valid one is. Enforcement is in the registry's transactions
/// (`ImmutableTags`, `StorageQuota`).
public struct StoragePolicyService: Sendable {
    let stores: Stores
    let access: Access

    public init(stores: Stores, access: Access) {
        self.stores = stores
        self.access = access
    }

    /// The most patterns a repository's immutable tag rules may have.
    static let maxPatterns = 50

    /// The repository's immutable tag patterns, for those who may read it.
    public func immutableTags(of repository: RepositoryName, by principal: Principal?) async throws -> [String] {
        try await access.require(principal, .pull, on: repository)
        return try await stores.policies.immutableTagPatterns(of: repository)
    }

    /// Replaces the repository's immutable tag patterns (repository admins); returns them.
    public func setImmutableTags(_ patterns: [String], of repository: RepositoryName, by principal: Principal?) async throws -> [String] {
        try await access.require(principal, .manage, on: repository)
        guard patterns.count <= Self.maxPatterns else { throw HubError.invalid("patterns", "at most \(Self.maxPatterns) patterns") }
        for pattern in patterns where TagPattern(pattern) == nil {
            throw HubError.invalid("patterns", "\(pattern) is not a tag pattern (letters, digits, _ . - and the wildcards * ?)")
        }
        var distinct: [String] = []
        for pattern in patterns where !distinct.contains(pattern) { distinct.append(pattern) }
        let unique = distinct
        try await stores.transaction { tx in
            try await tx.policies.setImmutableTagPatterns(unique, of: repository)
            try await AuditTrail.record("immutable_tags_set", actor: principal?.name, namespace: nil, repository: repository,
                                        details: ["patterns": unique.joined(separator: ",")], in: tx)
        }
        return unique
    }

    /// Sets (nil: removes) a namespace's storage quota in bytes; administrators only.
    public func setQuota(_ bytes: Int64?, of namespace: String, by principal: Principal?) async throws -> NamespaceUsage {
        try access.require(principal, .administerServer)
        guard try await stores.accounts.account(namespace) != nil else { throw HubError.notFound("namespace") }
        if let bytes, bytes < 0 { throw HubError.invalid("bytes", "bytes must be 0 or more") }
        try await stores.transaction { tx in
            try await tx.policies.setQuota(bytes, of: namespace)
            try await AuditTrail.record(bytes == nil ? "quota_remove" : "quota_set", actor: principal?.name, namespace: namespace,
                                        details: bytes.map { ["bytes": String($0)] } ?? [:], in: tx)
        }
        return try await usage(of: namespace)
    }

    /// What a namespace stores and may store, for administrators, the user it is, and members of
    /// the organization it is (others: not found).
    public func usage(of namespace: String, by principal: Principal?) async throws -> NamespaceUsage {
        guard let principal else { throw HubError.unauthenticated }
        guard let account = try await stores.accounts.account(namespace) else { throw HubError.notFound("namespace") }
        if !principal.isAdmin && principal.name != namespace {
            guard account.kind == .organization else { throw HubError.notFound("namespace") }
            try await access.require(principal, .view, organization: namespace)
        }
        return try await usage(of: namespace)
    }

    private func usage(of namespace: String) async throws -> NamespaceUsage {
        NamespaceUsage(bytes: try await stores.policies.usage(of: namespace), quota: try await stores.policies.quota(of: namespace, lock: false))
    }
}

/// Bytes a namespace stores (each blob once) and its quota (nil: unlimited).
public struct NamespaceUsage: Sendable, Equatable {
    public var bytes: Int64
    public var quota: Int64?
}
