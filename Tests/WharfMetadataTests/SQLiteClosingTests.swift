import Foundation
import Logging
import SQLKit
import Synchronization
import Testing
@testable import WharfMetadata

@Suite("SQLite closing")
struct SQLiteClosingTests {
    /// A statement that keeps a connection busy for a while (a few million rows counted).
    private static let slowCount = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT COUNT(*) AS c FROM n"

    @Test("closing waits for the statements running on every connection; statements sent after it fail cleanly")
    func closingWhileQueriesRun() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-close-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let access = try await SQLiteDatabaseAccess.open(path: "\(folder)/wharf.db", logger: Logger(label: "test"))

        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<12 {
                group.addTask {
                    do {
                        let row = index.isMultiple(of: 3)
                            ? try await access.transaction(.durable) { db in try await db.raw(SQLQueryString(Self.slowCount)).first() }
                            : try await access.reader.raw(SQLQueryString(Self.slowCount)).first()
                        return try row?.decode(column: "c", as: Int.self) == 300000 ? "counted" : "wrong"
                    } catch is DatabaseClosedError {
                        return "refused"
                    } catch {
                        return "failed: \(error)"
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(20))
                try? await access.shutdown()
                return "closed"
            }
            var outcomes: [String] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        #expect(outcomes.contains("closed"))
        #expect(outcomes.contains("counted"))
        #expect(outcomes.allSatisfy { ["counted", "refused", "closed"].contains($0) }, "\(outcomes)")
        await #expect(throws: DatabaseClosedError.self) { try await access.reader.raw("SELECT 1").run() }
        await #expect(throws: DatabaseClosedError.self) { try await access.transaction(.durable) { db in try await db.raw("SELECT 1").run() } }
    }
}

@Suite("Connection leases")
struct ConnectionLeaseTests {
    @Test("each connection has one holder at a time; everyone waiting gets one in the end")
    func oneHolderAtATime() async throws {
        let leases = ConnectionLeases(count: 3)
        final class Holders: Sendable {
            let state = Mutex<(now: Set<Int>, most: Int, overlaps: Int, served: Int)>(([], 0, 0, 0))
        }
        let holders = Holders()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await leases.withLease { index in
                        holders.state.withLock { state in
                            if !state.now.insert(index).inserted { state.overlaps += 1 }
                            state.most = max(state.most, state.now.count)
                        }
                        try await Task.sleep(for: .milliseconds(2))
                        holders.state.withLock { state in
                            state.now.remove(index)
                            state.served += 1
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let state = holders.state.withLock { $0 }
        #expect(state.overlaps == 0)
        #expect(state.most == 3)
        #expect(state.served == 40)
    }
}
