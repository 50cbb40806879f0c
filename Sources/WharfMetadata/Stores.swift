import Foundation
import SQLKit
import WharfCore

/// Every store over one database, and units of work that span them.
///
/// Outside a transaction each store method is one atomic step. `transaction` hands its body
/// stores whose every read and write happens in one database transaction: a rule's check and
/// the write it guards, or a change and the event it causes, commit together or not at all.
public struct Stores: Sendable {
    public let metadata: any MetadataStore
    /// Listings, search, stars, pull counts and tag details (over the same tables as `metadata`).
    public let catalog: any CatalogStore
    public let accounts: any AccountStore
    public let events: any EventStore
    public let jobs: any JobStore
    public let secrets: any SecretStore
    /// Website sessions.
    public let sessions: any SessionStore
    /// Webhooks and their deliveries.
    public let webhooks: any WebhookStore
    /// Automated builds: settings, builds, logs.
    public let builds: any BuildStore
    /// What garbage collection reads and deletes.
    public let garbage: any GarbageStore
    /// Immutable tags, retention policies, quotas.
    public let policies: any PolicyStore
    /// The audit log.
    public let audit: any AuditStore
    public let clock: any WallClock
    private let access: any SQLDatabaseAccess

    /// The stores over `access`, after bringing its schema up to date.
    public static func open(_ access: any SQLDatabaseAccess, clock: any WallClock = SystemClock()) async throws -> Stores {
        try await Migrations.run(on: access, clock: clock)
        return Stores(access, clock: clock)
    }

    private init(_ access: any SQLDatabaseAccess, clock: any WallClock) {
        self.access = access
        self.clock = clock
        let metadata = SQLMetadataStore(access: access, clock: clock)
        self.metadata = metadata
        catalog = metadata
        accounts = SQLAccountStore(access: access, clock: clock)
        events = SQLEventStore(access: access)
        jobs = SQLJobStore(access: access, clock: clock)
        secrets = SQLSecretStore(access: access, clock: clock)
        sessions = SQLSessionStore(access: access)
        webhooks = SQLWebhookStore(access: access)
        builds = SQLBuildStore(access: access)
        garbage = SQLGarbageStore(access: access)
        policies = SQLPolicyStore(access: access, clock: clock)
        audit = SQLAuditStore(access: access)
    }

    /// Runs `body` in one write transaction: committed when it returns, rolled back when it throws.
    /// Inside, use only the stores handed to `body` (the outer ones would wait for this transaction).
    public func transaction<R: Sendable>(_ durability: Durability = .durable,
                                         _ body: @escaping @Sendable (Stores) async throws -> R) async throws -> R {
        let flavor = access.flavor
        let clock = self.clock
        return try await access.transaction(durability) { db in
            try await body(Stores(TransactionAccess(db: db, flavor: flavor), clock: clock))
        }
    }

    /// Tells other replicas that the account `name` changed (password, disabled, admin), so they
    /// stop trusting what they verified about it.
    public func announceAccountChange(_ name: String) async throws {
        try await access.announce("account:\(name)")
    }

    /// Whether only this process uses the database (SQLite), so leases of earlier runs can be ended at start.
    public var isSingleProcess: Bool { access.flavor == .sqlite }

    /// Fails when the database cannot be queried.
    public func checkHealth() async throws {
        try await metadata.checkHealth()
    }

    /// Closes every connection.
    public func shutdown() async throws {
        try await access.shutdown()
    }
}

/// The database access inside a transaction: reads and writes go to the transaction's connection,
/// nested transactions join it, and nothing is cached (the data may yet be rolled back).
struct TransactionAccess: SQLDatabaseAccess {
    let db: any SQLDatabase
    let flavor: SQLFlavor

    var reader: any SQLDatabase { db }
    var cache: ReadCache { ReadCache.passThrough }

    func transaction<R: Sendable>(_ durability: Durability,
                                  _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await body(db)
    }

    func shutdown() async throws {}
}
