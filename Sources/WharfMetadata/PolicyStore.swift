import Foundation
import WharfCore

/// Per-repository and per-namespace rules of the storage lifecycle: immutable tags, retention
/// policies and storage quotas, with the usage quotas are checked against.
public protocol PolicyStore: Sendable {
    /// The repository's immutable tag patterns (empty: none).
    func immutableTagPatterns(of repository: RepositoryName) async throws -> [String]
    /// Replaces the repository's immutable tag patterns.
    func setImmutableTagPatterns(_ patterns: [String], of repository: RepositoryName) async throws
    /// The repository's retention policy, nil when it has none.
    func retentionPolicy(of repository: RepositoryName) async throws -> RetentionPolicy?
    /// Sets (or with nil removes) the repository's retention policy.
    func setRetentionPolicy(_ policy: RetentionPolicy?, of repository: RepositoryName) async throws
    /// The namespace's retention policy (for its repositories without their own), nil when none.
    func namespaceRetentionPolicy(of namespace: String) async throws -> RetentionPolicy?
    /// Sets (or with nil removes) the namespace's retention policy.
    func setNamespaceRetentionPolicy(_ policy: RetentionPolicy?, of namespace: String) async throws
    /// Repositories with a retention policy of their own or of their namespace.
    func repositoriesWithRetention() async throws -> [RepositoryName]
    /// The repository's tags with when each was last pushed, newest first.
    func pushedTags(in repository: RepositoryName) async throws -> [(name: String, pushedAt: Date)]

    /// The namespace's storage quota in bytes, nil when unlimited. Inside a transaction on
    /// PostgreSQL the quota's row is locked, so that pushes into one namespace check it in turn.
    func quota(of namespace: String, lock: Bool) async throws -> Int64?
    /// Sets (or with nil removes) the namespace's quota.
    func setQuota(_ bytes: Int64?, of namespace: String) async throws
    /// Bytes the namespace's repositories use: each blob once, however many of them link it.
    func usage(of namespace: String) async throws -> Int64
    /// Whether some repository of the namespace links the blob.
    func namespace(_ namespace: String, links digest: Digest) async throws -> Bool
}

/// Which tags a repository keeps; the others are deleted when the policy runs. A tag is kept when
/// any rule keeps it; a policy with no rule keeps everything.
public struct RetentionPolicy: Sendable, Equatable, Codable {
    /// Keep the most recently pushed N tags.
    public var keepLast: Int?
    /// Keep tags matching any of these patterns (`*` and `?`).
    public var keepPatterns: [String]
    /// Keep tags pushed within the last D days.
    public var maxAgeDays: Int?

    public init(keepLast: Int? = nil, keepPatterns: [String] = [], maxAgeDays: Int? = nil) {
        self.keepLast = keepLast
        self.keepPatterns = keepPatterns
        self.maxAgeDays = maxAgeDays
    }

    /// Whether some rule is set (a policy without one deletes nothing).
    public var hasRules: Bool { keepLast != nil || !keepPatterns.isEmpty || maxAgeDays != nil }
}
