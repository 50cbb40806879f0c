import Foundation
import SQLKit
import WharfCore

/// `JobStore` over the `jobs` table. On PostgreSQL a claim locks the row it takes and skips rows
/// other claims hold (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, which serialises claims.
struct SQLJobStore: JobStore {
    let access: any SQLDatabaseAccess
    let clock: any WallClock

    @discardableResult
    func enqueue(kind: String, payload: String, runAt: Date, maxAttempts: Int, uniqueKey: String?) async throws -> Bool {
        let now = clock.now.timeIntervalSince1970
        return try await access.transaction { db in
            if let uniqueKey, try await db.raw("SELECT 1 AS ok FROM jobs WHERE unique_key = \(bind: uniqueKey)").first() != nil {
                return false
            }
            try await db.raw("""
                INSERT INTO jobs (kind, unique_key, payload, state, run_at, attempts, max_attempts, created_at)
                VALUES (\(bind: kind), \(bind: uniqueKey), \(bind: payload), 'queued', \(bind: runAt.timeIntervalSince1970), 0,
                        \(bind: maxAttempts), \(bind: now))
                """).run()
            return true
        }
    }

    func wake(kind: String, payload: String, uniqueKey: String, runAt: Date, maxAttempts: Int) async throws {
        let now = clock.now.timeIntervalSince1970
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO jobs (kind, unique_key, payload, state, run_at, attempts, max_attempts, created_at)
                VALUES (\(bind: kind), \(bind: uniqueKey), \(bind: payload), 'queued', \(bind: runAt.timeIntervalSince1970), 0,
                        \(bind: maxAttempts), \(bind: now))
                ON CONFLICT (unique_key) DO UPDATE SET poked = TRUE
                """).run()
        }
    }

    func claim(kinds: [String], owner: String, now: Date, lease: TimeInterval) async throws -> Job? {
        guard !kinds.isEmpty else { return nil }
        let lock: SQLQueryString = access.flavor == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        let at = now.timeIntervalSince1970
        // Losing a claim to a crash only delays the job until the lease would have ended: no fsync needed.
        return try await access.transaction(.relaxed) { db in
            guard let row = try await db.raw("""
                SELECT id FROM jobs WHERE state = 'queued' AND kind IN (\(binds: kinds)) AND run_at <= \(bind: at)
                AND (lease_until IS NULL OR lease_until <= \(bind: at))
                ORDER BY run_at, id LIMIT 1 \(lock)
                """).first() else { return nil }
            let id = try row.decode(column: "id", as: Int64.self)
            try await db.raw("""
                UPDATE jobs SET lease_owner = \(bind: owner), lease_until = \(bind: at + lease), attempts = attempts + 1,
                poked = FALSE WHERE id = \(bind: id)
                """).run()
            return try await db.raw("SELECT * FROM jobs WHERE id = \(bind: id)").first().map(Self.decode)
        }
    }

    func renew(_ id: Int64, owner: String, until: Date) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM jobs WHERE id = \(bind: id) AND lease_owner = \(bind: owner)",
            change: "UPDATE jobs SET lease_until = \(bind: until.timeIntervalSince1970) WHERE id = \(bind: id)"
        )
    }

    func complete(_ id: Int64, owner: String, nextRun: Date?) async throws {
        try await access.transaction { db in
            if let nextRun {
                try await db.raw("""
                    UPDATE jobs SET run_at = \(bind: nextRun.timeIntervalSince1970), attempts = 0, last_error = NULL,
                    lease_owner = NULL, lease_until = NULL, poked = FALSE WHERE id = \(bind: id) AND lease_owner = \(bind: owner)
                    """).run()
            } else {
                // Woken while it ran: there is more to do, so it runs again instead of going.
                try await db.raw("""
                    UPDATE jobs SET run_at = \(bind: clock.now.timeIntervalSince1970), attempts = 0, last_error = NULL,
                    lease_owner = NULL, lease_until = NULL, poked = FALSE
                    WHERE id = \(bind: id) AND lease_owner = \(bind: owner) AND poked
                    """).run()
                try await db.raw("DELETE FROM jobs WHERE id = \(bind: id) AND lease_owner = \(bind: owner)").run()
            }
        }
    }

    func fail(_ id: Int64, owner: String, error: String, retryAt: Date?) async throws {
        let message = String(error.prefix(2000))
        try await access.transaction { db in
            if let retryAt {
                try await db.raw("""
                    UPDATE jobs SET last_error = \(bind: message), run_at = \(bind: retryAt.timeIntervalSince1970),
                    lease_owner = NULL, lease_until = NULL WHERE id = \(bind: id) AND lease_owner = \(bind: owner)
                    """).run()
            } else {
                try await db.raw("""
                    UPDATE jobs SET last_error = \(bind: message), state = 'dead', unique_key = NULL,
                    lease_owner = NULL, lease_until = NULL WHERE id = \(bind: id) AND lease_owner = \(bind: owner)
                    """).run()
            }
        }
    }

    func nextDue(kinds: [String]) async throws -> Date? {
        guard !kinds.isEmpty else { return nil }
        let row = try await access.reader.raw("""
            SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > run_at THEN lease_until ELSE run_at END) AS due
            FROM jobs WHERE state = 'queued' AND kind IN (\(binds: kinds))
            """).first()
        return try row?.decode(column: "due", as: Double?.self).map(Date.init(timeIntervalSince1970:))
    }

    func releaseLeases() async throws {
        try await access.transaction { db in
            try await db.raw("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL").run()
        }
    }

    func jobs() async throws -> [Job] {
        try await access.reader.raw("SELECT * FROM jobs ORDER BY id").all().map(Self.decode)
    }

    static func decode(_ row: any SQLRow) throws -> Job {
        Job(
            id: try row.decode(column: "id", as: Int64.self),
            kind: try row.decode(column: "kind", as: String.self),
            payload: try row.decode(column: "payload", as: String.self),
            runAt: Date(timeIntervalSince1970: try row.decode(column: "run_at", as: Double.self)),
            attempts: try row.decode(column: "attempts", as: Int.self),
            maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            lastError: try row.decode(column: "last_error", as: String?.self),
            leaseOwner: try row.decode(column: "lease_owner", as: String?.self),
            leaseUntil: try row.decode(column: "lease_until", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            state: try row.decode(column: "state", as: String.self)
        )
    }
}
