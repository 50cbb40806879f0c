import Logging
import NIOCore
import NIOPosix
@preconcurrency import PostgresKit
import SQLKit

/// PostgreSQL through a pool of connections: reads take any connection, a write transaction holds
/// one connection from `BEGIN` to `COMMIT`. Several replicas share the database.
///
/// Durable transactions commit with `synchronous_commit = on`; relaxed ones set it off for that
/// transaction only (the commit is visible at once and reaches disk within a few hundred ms).
///
/// `@unchecked Sendable`: AsyncKit's pool guards its state with its own lock and is used from any
/// thread, but is not annotated `Sendable`; the other properties are immutable.
public final class PostgresDatabaseAccess: SQLDatabaseAccess, @unchecked Sendable {
    private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    private let logger: Logger
    public let cache: ReadCache

    public var flavor: SQLFlavor { .postgres }

    /// Connects to `url` (`postgres://user:password@host:port/database`) with up to `connections` per event
    /// loop (at least 2: migrations hold one for their lock while they write with another).
    public init(url: String, connections: Int = 8, logger: Logger, cache: ReadCache = ReadCache()) throws {
        let configuration = try SQLPostgresConfiguration(url: url)
        pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: max(2, connections), pruneInterval: .seconds(60), logger: logger,
            on: MultiThreadedEventLoopGroup.singleton
        )
        self.logger = logger
        self.cache = cache
    }

    public var reader: any SQLDatabase {
        pool.database(logger: logger).sql(queryLogLevel: .trace)
    }

    public func transaction<R: Sendable>(_ durability: Durability,
                                         _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        // Two transactions that lock rows in opposite orders (a push and the pull-count flush)
        // deadlock; PostgreSQL aborts one. The aborted one ran nothing that lasts: run it again.
        for attempt in 1... {
            do {
                return try await attemptTransaction(durability, body)
            } catch let error as PSQLError where attempt < 5 && Self.retryable.contains(error.serverInfo?[.sqlState] ?? "") {
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
        fatalError("unreachable: the last attempt returns or throws")
    }

    /// Deadlock detected, serialization failure.
    private static let retryable: Set<String> = ["40P01", "40001"]

    private func attemptTransaction<R: Sendable>(_ durability: Durability,
                                                 _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        let db = connection.sql(queryLogLevel: .trace)
        try await db.raw("BEGIN").run()
        do {
            if durability.isRelaxed { try await db.raw("SET LOCAL synchronous_commit = off").run() }
            let result = try await body(db)
            // Delivered at commit to every replica listening (`listenForChanges`), which then
            // drops its cached reads.
            if durability != .statistics { try await db.raw("NOTIFY \(unsafeRaw: Self.changeChannel)").run() }
            try await db.raw("COMMIT").run()
            if durability != .statistics { cache.bump() }
            return result
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
    }

    /// The channel committed writes notify.
    static let changeChannel = "wharf_changes"

    /// Tells every replica something named by `payload` changed (`account:NAME`: drop its verified passwords).
    public func announce(_ payload: String) async throws {
        try await reader.raw("SELECT pg_notify(\(bind: Self.changeChannel), \(bind: payload))").run()
    }

    /// Listens for other replicas' commits until cancelled: each one drops this replica's cached
    /// reads, then `onChange` gets its payload ("" for an ordinary write). While the listening
    /// connection is down, cached reads live at most the read cache's lifetime; after a reconnect
    /// everything cached is dropped, since notifications may have been missed.
    public func listenForChanges(_ onChange: @escaping @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do {
                let connection = try await pool.requestConnection(logger: logger).get()
                defer { pool.releaseConnection(connection, logger: logger) }
                cache.bump()
                try await connection.listen(on: Self.changeChannel) { notifications in
                    for try await notification in notifications {
                        cache.bump()
                        onChange(notification.payload)
                    }
                }
            } catch {
                cache.bump()
                logger.warning("listening for other replicas' changes failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Runs `body` holding a session-level advisory lock (migrations: replicas starting together wait for each other).
    public func withAdvisoryLock<R: Sendable>(_ key: Int64, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        let db = connection.sql(queryLogLevel: .trace)
        try await db.raw("SELECT pg_advisory_lock(\(bind: key))").run()
        do {
            let result = try await body()
            try await db.raw("SELECT pg_advisory_unlock(\(bind: key))").run()
            return result
        } catch {
            try? await db.raw("SELECT pg_advisory_unlock(\(bind: key))").run()
            throw error
        }
    }

    public func shutdown() async throws {
        try await pool.shutdownAsync()
    }
}
