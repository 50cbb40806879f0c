import Synchronization

/// Hands out indices of a fixed set of connections, one holder at a time each; callers wait in
/// order when all are taken. SQLite's serialized mode tolerates several threads on one
/// connection, but its error messages (and any statement state read between calls) are then
/// shared between them; one statement per connection at a time keeps each connection's state its own.
final class ConnectionLeases: Sendable {
    private struct State {
        var idle: [Int]
        var waiting: [CheckedContinuation<Int, Never>] = []
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(idle: Array((0..<count).reversed())))
    }

    /// Runs `body` with a connection index no one else holds meanwhile.
    func withLease<R>(_ body: (Int) async throws -> R) async throws -> R {
        let index = await take()
        defer { give(index) }
        return try await body(index)
    }

    private func take() async -> Int {
        if let index = state.withLock({ $0.idle.popLast() }) { return index }
        return await withCheckedContinuation { continuation in
            let index: Int? = state.withLock { state in
                if let index = state.idle.popLast() { return index }
                state.waiting.append(continuation)
                return nil
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    private func give(_ index: Int) {
        let next: CheckedContinuation<Int, Never>? = state.withLock { state in
            if !state.waiting.isEmpty { return state.waiting.removeFirst() }
            state.idle.append(index)
            return nil
        }
        next?.resume(returning: index)
    }
}
