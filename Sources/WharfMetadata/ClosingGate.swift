import Foundation
import Logging
import NIOCore
import SQLKit
import Synchronization

/// Counts the statements running on a set of SQLite connections so that closing them waits for
/// the last one: SQLite frees a connection at once when it has no prepared statement, so a query
/// whose statement is being prepared on another thread at that moment would use freed memory.
/// After `close` begins, new statements fail with ``DatabaseClosedError`` instead.
final class ClosingGate: Sendable {
    private let state = Mutex<(closed: Bool, running: Int)>((false, 0))

    /// Admits one statement; throws once closing has begun.
    func enter() throws {
        try state.withLock { state in
            guard !state.closed else { throw DatabaseClosedError() }
            state.running += 1
        }
    }

    /// Ends a statement admitted by ``enter()``.
    func leave() {
        state.withLock { $0.running -= 1 }
    }

    /// Refuses new statements, then waits (up to `limit`) until none is running.
    func close(waitingAtMost limit: Duration = .seconds(30)) async {
        state.withLock { $0.closed = true }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while state.withLock({ $0.running }) > 0, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// A statement was sent to a database that is closing or closed.
public struct DatabaseClosedError: Error, CustomStringConvertible {
    public var description: String { "the database is closed" }
}

/// An `SQLDatabase` whose statements pass through a ``ClosingGate``.
struct GatedSQLDatabase: SQLDatabase {
    let base: any SQLDatabase
    let gate: ClosingGate

    /// Runs `body` as one statement admitted by the gate.
    static func admitted<R>(by gate: ClosingGate, _ body: () async throws -> R) async throws -> R {
        try gate.enter()
        defer { gate.leave() }
        return try await body()
    }

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        do {
            try gate.enter()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let gate = self.gate
        return base.execute(sql: query, onRow).always { _ in gate.leave() }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await Self.admitted(by: gate) { try await base.execute(sql: query, onRow) }
    }
}

/// An `SQLDatabase` over a set of reader connections: each statement leases one connection for
/// itself (see ``ConnectionLeases``) and passes through the ``ClosingGate``.
struct LeasedSQLDatabase: SQLDatabase {
    let connections: [any SQLDatabase]
    let leases: ConnectionLeases
    let gate: ClosingGate

    private var first: any SQLDatabase { connections[0] }
    var logger: Logger { first.logger }
    var eventLoop: any EventLoop { first.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { first.version }
    var dialect: any SQLDialect { first.dialect }
    var queryLogLevel: Logger.Level? { first.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await GatedSQLDatabase.admitted(by: gate) {
            try await leases.withLease { index in try await connections[index].execute(sql: query, onRow) }
        }
    }
}
