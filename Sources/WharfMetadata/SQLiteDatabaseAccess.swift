import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization

/// SQLite in WAL mode: one writer connection behind an async lock, a few reader connections.
///
/// `synchronous=FULL` makes every committed transaction durable before the call returns.
public final class SQLiteDatabaseAccess: SQLDatabaseAccess {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let readerLeases: ConnectionLeases
    private let readerDatabases: [any SQLDatabase]
    private let writeLock = AsyncSerialLock()
    private let gate = ClosingGate()
    public let cache = ReadCache()

    public var flavor: SQLFlavor { .sqlite }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readers count: Int = 4, logger: Logger) async throws -> SQLiteDatabaseAccess {
        let writer = try await openConnection(path, logger: logger)
        _ = try await writer.query("PRAGMA journal_mode=WAL")
        var readers: [SQLiteConnection] = []
        for _ in 0..<max(1, count) {
            readers.append(try await openConnection(path, logger: logger))
        }
        return SQLiteDatabaseAccess(writer: writer, readers: readers)
    }

    private static func openConnection(_ path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        // Reads through a memory map share the kernel's page cache instead of copying pages into
        // each connection's own small cache (a search over 100,000 repositories reads many).
        for pragma in ["PRAGMA busy_timeout=10000", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=FULL", "PRAGMA mmap_size=268435456"] {
            _ = try await connection.query(pragma)
        }
        return connection
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.writer = writer
        self.readers = readers
        self.readerLeases = ConnectionLeases(count: readers.count)
        self.readerDatabases = readers.map { $0.sql(queryLogLevel: .trace) }
    }

    /// Each statement runs on a reader connection of its own for its duration.
    public var reader: any SQLDatabase {
        LeasedSQLDatabase(connections: readerDatabases, leases: readerLeases, gate: gate)
    }

    public func transaction<R: Sendable>(_ durability: Durability,
                                         _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = GatedSQLDatabase(base: writer.sql(queryLogLevel: .trace), gate: gate)
        return try await writeLock.withLock {
            // In WAL mode NORMAL skips the fsync at commit; the next FULL commit syncs the WAL, these frames included.
            if durability.isRelaxed { try await Self.outsideTransaction(db) { try await db.raw("PRAGMA synchronous=NORMAL").run() } }
            let result: R
            do {
                result = try await Self.commit(body, on: db)
            } catch {
                if durability.isRelaxed { try? await db.raw("PRAGMA synchronous=FULL").run() }
                throw error
            }
            if durability.isRelaxed { try await db.raw("PRAGMA synchronous=FULL").run() }
            if durability != .statistics { cache.bump() }
            return result
        }
    }

    /// Runs `statement`, which must run outside a transaction. If the writer was left inside one
    /// (a commit and its rollback both failed), that transaction is rolled back first: one failure
    /// must never wedge every later write.
    private static func outsideTransaction(_ db: any SQLDatabase, _ statement: () async throws -> Void) async throws {
        do {
            try await statement()
        } catch let error where "\(error)".contains("within a transaction") || "\(error)".contains("inside a transaction") {
            try await db.raw("ROLLBACK").run()
            try await statement()
        }
    }

    private static func commit<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R,
                                            on db: any SQLDatabase) async throws -> R {
        try await outsideTransaction(db) { try await db.raw("BEGIN IMMEDIATE").run() }
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
    }

    /// Closes the connections once the statements running on them have finished; later ones fail.
    public func shutdown() async throws {
        await gate.close()
        try await writer.close()
        for reader in readers { try await reader.close() }
    }
}
