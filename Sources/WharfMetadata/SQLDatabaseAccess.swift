import SQLKit

/// How the metadata store reaches its database: concurrent reads, serialised write transactions.
public protocol SQLDatabaseAccess: Sendable {
    /// A database for single-statement reads.
    var reader: any SQLDatabase { get }
    /// Runs `body` in one write transaction, committed when it returns, rolled back when it throws.
    func transaction<R: Sendable>(_ durability: Durability,
                                  _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Hot reads kept in memory; every committed transaction invalidates it.
    var cache: ReadCache { get }
    /// The SQL flavour, for the few statements that differ.
    var flavor: SQLFlavor { get }
    /// Closes every connection.
    func shutdown() async throws
    /// Tells other processes sharing the database that something named by `payload` changed
    /// (PostgreSQL: a notification; SQLite: nothing to tell, one process serves it).
    func announce(_ payload: String) async throws
}

/// When a committed write transaction reaches stable storage.
public enum Durability: Sendable {
    /// On disk before the commit returns (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`).
    case durable
    /// Visible and consistent at once, on disk with the next durable commit or checkpoint: a crash may
    /// lose it but never half of it. For progress that a client can redo, such as upload offsets.
    case relaxed
    /// Relaxed, and changing only counters that no cached read holds (pull counts): the commit
    /// invalidates no cache and notifies no other replica.
    case statistics

    /// Whether the commit may wait for the next durable one.
    var isRelaxed: Bool { self != .durable }
}

/// The SQL dialects Wharf supports.
public enum SQLFlavor: Sendable {
    case sqlite
    case postgres

    /// The column type for raw bytes.
    var bytesType: String { self == .sqlite ? "BLOB" : "BYTEA" }
    /// The column type for timestamps (seconds since 1970).
    var timeType: String { self == .sqlite ? "REAL" : "DOUBLE PRECISION" }
    /// An auto-incremented 64-bit primary key column.
    var autoIncrementKey: String { self == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY" }
    /// The collation that orders text by bytes.
    var byteCollation: String { self == .sqlite ? "BINARY" : "\"C\"" }
}

extension SQLDatabaseAccess {
    public func announce(_ payload: String) async throws {}

    /// Runs `body` in one durable write transaction.
    func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await transaction(.durable, body)
    }

    /// In one transaction: runs `change` if `check` finds a row; reports whether it did.
    func writeIfExists(check: SQLQueryString, change: SQLQueryString) async throws -> Bool {
        try await transaction { db in
            guard try await db.raw(check).first() != nil else { return false }
            try await db.raw(change).run()
            return true
        }
    }
}
