import Foundation
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
