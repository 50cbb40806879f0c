import Foundation
import SQLKit
import WharfCore

/// Website sessions, kept in the database so that every replica knows them. Only a hash of the
/// session's secret is stored: a database leak reveals no usable cookie.
public protocol SessionStore: Sendable {
    func createSession(_ session: WebSession, secretHash: String) async throws
    /// The session with this secret hash, unless it has been idle since before `idleSince`.
    func session(secretHash: String, idleSince: Date) async throws -> WebSession?
    /// Records activity (callers do so at most once a minute).
    func touchSession(secretHash: String, at time: Date) async throws
    func deleteSession(secretHash: String) async throws
    /// Ends every session of the account (password change, account disabled).
    func deleteSessions(of account: String) async throws
    /// Forgets sessions idle since before `time`; how many.
    func deleteSessions(idleSince time: Date) async throws -> Int
}

/// A logged-in browser.
public struct WebSession: Sendable, Equatable {
    public var account: String
    /// The token every form of this session carries (CSRF).
    public var formToken: String
    public var createdAt: Date
    public var lastSeenAt: Date

    public init(account: String, formToken: String, createdAt: Date, lastSeenAt: Date) {
        self.account = account
        self.formToken = formToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// `SessionStore` over the `web_sessions` table.
struct SQLSessionStore: SessionStore {
    let access: any SQLDatabaseAccess

    func createSession(_ session: WebSession, secretHash: String) async throws {
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO web_sessions (secret_hash, account, form_token, created_at, last_seen_at)
                VALUES (\(bind: secretHash), \(bind: session.account), \(bind: session.formToken),
                        \(bind: session.createdAt.timeIntervalSince1970), \(bind: session.lastSeenAt.timeIntervalSince1970))
                """).run()
        }
    }

    func session(secretHash: String, idleSince: Date) async throws -> WebSession? {
        guard let row = try await access.reader.raw("""
            SELECT account, form_token, created_at, last_seen_at FROM web_sessions
            WHERE secret_hash = \(bind: secretHash) AND last_seen_at >= \(bind: idleSince.timeIntervalSince1970)
            """).first() else { return nil }
        return WebSession(account: try row.decode(column: "account", as: String.self),
                          formToken: try row.decode(column: "form_token", as: String.self),
                          createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
                          lastSeenAt: Date(timeIntervalSince1970: try row.decode(column: "last_seen_at", as: Double.self)))
    }

    func touchSession(secretHash: String, at time: Date) async throws {
        // Activity a crash forgets only shortens the session: no fsync, no cache to invalidate.
        try await access.transaction(.statistics) { db in
            try await db.raw("""
                UPDATE web_sessions SET last_seen_at = \(bind: time.timeIntervalSince1970) WHERE secret_hash = \(bind: secretHash)
                """).run()
        }
    }

    func deleteSession(secretHash: String) async throws {
        try await access.transaction { db in
            try await db.raw("DELETE FROM web_sessions WHERE secret_hash = \(bind: secretHash)").run()
        }
    }

    func deleteSessions(of account: String) async throws {
        try await access.transaction { db in
            try await db.raw("DELETE FROM web_sessions WHERE account = \(bind: account)").run()
        }
    }

    func deleteSessions(idleSince time: Date) async throws -> Int {
        try await access.transaction(.relaxed) { db in
            try await db.raw("""
                DELETE FROM web_sessions WHERE last_seen_at < \(bind: time.timeIntervalSince1970) RETURNING secret_hash
                """).all().count
        }
    }
}
