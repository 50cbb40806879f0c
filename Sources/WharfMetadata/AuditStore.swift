import Foundation

/// The audit log: who did what, when, from where. Entries are written in the transaction of the
/// change they describe and never changed afterwards.
public protocol AuditStore: Sendable {
    /// Appends an entry.
    func record(_ entry: AuditEntry) async throws
    /// Entries matching `filter`, newest first, `limit` of them after skipping `offset`, and how many match in all.
    func entries(_ filter: AuditFilter, offset: Int, limit: Int) async throws -> (entries: [AuditEntry], total: Int)
}

/// One audited action.
public struct AuditEntry: Sendable, Equatable {
    /// Assigned by the store.
    public var id: Int64?
    public var at: Date
    /// The account that acted (`system:gc`, `system:retention` for the server itself; nil for anonymous).
    public var actor: String?
    /// What happened: `push`, `tag_delete`, `repository_delete`, `token_create`, `login_failed`, …
    public var action: String
    /// The namespace it concerns, which decides who may read the entry besides administrators.
    public var namespace: String?
    public var repository: String?
    /// What it acted on within the repository or namespace (a tag, a digest, a team, a token).
    public var target: String?
    /// The client's address, when the action came through a request.
    public var clientAddress: String?
    public var details: [String: String]

    public init(id: Int64? = nil, at: Date, actor: String?, action: String, namespace: String? = nil, repository: String? = nil,
                target: String? = nil, clientAddress: String? = nil, details: [String: String] = [:]) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.namespace = namespace
        self.repository = repository
        self.target = target
        self.clientAddress = clientAddress
        self.details = details
    }
}

/// Which audit entries to read.
public struct AuditFilter: Sendable, Equatable {
    public var actor: String?
    public var action: String?
    public var repository: String?
    public var since: Date?
    public var until: Date?
    /// Only entries of these namespaces (nil: all, for administrators).
    public var namespaces: [String]?

    public init(actor: String? = nil, action: String? = nil, repository: String? = nil, since: Date? = nil, until: Date? = nil,
                namespaces: [String]? = nil) {
        self.actor = actor
        self.action = action
        self.repository = repository
        self.since = since
        self.until = until
        self.namespaces = namespaces
    }
}
