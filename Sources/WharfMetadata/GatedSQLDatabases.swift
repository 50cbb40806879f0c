import Logging
import NIOCore
import SQLKit

/// An `SQLDatabase` that runs statements its own way on connections like `base`, from which it
/// takes everything else (logger, event loop, version, dialect).
protocol SQLDatabaseWrapper: SQLDatabase {
    var base: any SQLDatabase { get }
}

extension SQLDatabaseWrapper {
    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }
}

/// An `SQLDatabase` whose statements pass through a ``ClosingGate``.
struct GatedSQLDatabase: SQLDatabaseWrapper {
    let base: any SQLDatabase
    let gate: ClosingGate

    /// Runs `body` as one statement admitted by the gate.
    static func admitted<R>(by gate: ClosingGate, _ body: () async throws -> R) async throws -> R {
        try gate.enter()
        defer { gate.leave() }
        return try await body()
    }

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
struct LeasedSQLDatabase: SQLDatabaseWrapper {
    let connections: [any SQLDatabase]
    let leases: ConnectionLeases
    let gate: ClosingGate

    var base: any SQLDatabase { connections[0] }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await GatedSQLDatabase.admitted(by: gate) {
            try await leases.withLease { index in try await connections[index].execute(sql: query, onRow) }
        }
    }
}
