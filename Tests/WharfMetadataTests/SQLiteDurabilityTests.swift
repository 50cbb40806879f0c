import Foundation
import Logging
import SQLKit
import Testing
@testable import WharfMetadata

@Suite("SQLite durability")
struct SQLiteDurabilityTests {
    /// `PRAGMA synchronous` as the writer connection sees it inside a transaction: 1 NORMAL, 2 FULL.
    private func synchronousLevel(_ access: SQLiteDatabaseAccess, _ durability: Durability) async throws -> Int {
        try await access.transaction(durability) { db in
            try await db.raw("PRAGMA synchronous").first()?.decode(column: "synchronous", as: Int.self) ?? -1
        }
    }

    @Test("a relaxed transaction skips the commit fsync, and every other transaction is fsync'd again")
    func relaxedThenDurable() async throws {
        try await withDatabase(check)
    }

    private func check(_ access: SQLiteDatabaseAccess) async throws {
        #expect(try await synchronousLevel(access, .durable) == 2)
        #expect(try await synchronousLevel(access, .relaxed) == 1)
        #expect(try await synchronousLevel(access, .durable) == 2)

        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await access.transaction(.relaxed) { _ in throw Boom() }
        }
        #expect(try await synchronousLevel(access, .durable) == 2)

        // What a relaxed transaction wrote is visible at once.
        try await access.transaction(.relaxed) { db in
            try await db.raw("CREATE TABLE t (v INTEGER)").run()
            try await db.raw("INSERT INTO t VALUES (7)").run()
        }
        let value = try await access.reader.raw("SELECT v FROM t").first()?.decode(column: "v", as: Int.self)
        #expect(value == 7)
    }
}
