import Foundation
import SQLKit
import WharfCore

/// `AccountStore` over the same SQL database as the registry metadata.
public struct SQLAccountStore: AccountStore {
    let access: any SQLDatabaseAccess
    let clock: any WallClock

    /// The store over `access`, whose schema `Migrations.run` has brought up to date.
    init(access: any SQLDatabaseAccess, clock: any WallClock) {
        self.access = access
        self.clock = clock
    }

    var db: any SQLDatabase { access.reader }

    // MARK: Accounts

    public func createAccount(_ a: Account) async throws {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM accounts WHERE name = \(bind: a.name)").first() == nil else {
                throw StoreError.exists
            }
            try await db.raw("""
                INSERT INTO accounts (name, kind, email, password_hash, is_admin, disabled, private_repo_limit, default_private, created_at)
                VALUES (\(bind: a.name), \(bind: a.kind.rawValue), \(bind: a.email), \(bind: a.passwordHash), \(bind: a.isAdmin),
                        \(bind: a.disabled), \(bind: a.privateRepoLimit), \(bind: a.defaultPrivate), \(bind: a.createdAt.timeIntervalSince1970))
                """).run()
        }
    }

    public func account(_ name: String) async throws -> Account? {
        // Every stored name is well formed: anything else (a path segment with NUL, say) is simply unknown.
        guard AccountName.isWellFormed(name) else { return nil }
        let db = self.db
        let read: @Sendable () async throws -> Account? = {
            try await db.raw("SELECT * FROM accounts WHERE name = \(bind: name)").first().map(Self.decodeAccount)
        }
        guard case .account(let account) = try await access.cache.cached("account|\(name)", read: { .account(try await read()) }) else {
            return try await read()
        }
        return account
    }

    public func lockAccount(_ name: String) async throws -> Account? {
        let lock: SQLQueryString = access.flavor == .postgres ? "FOR UPDATE" : ""
        return try await db.raw("SELECT * FROM accounts WHERE name = \(bind: name) \(lock)").first().map(Self.decodeAccount)
    }

    public func accounts() async throws -> [Account] {
        try await db.raw("SELECT * FROM accounts ORDER BY name").all().map(Self.decodeAccount)
    }

    static func decodeAccount(_ row: any SQLRow) throws -> Account {
        Account(
            name: try row.decode(column: "name", as: String.self),
            kind: Account.Kind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .user,
            email: try row.decode(column: "email", as: String?.self),
            passwordHash: try row.decode(column: "password_hash", as: String?.self),
            isAdmin: try row.decode(column: "is_admin", as: Bool.self),
            disabled: try row.decode(column: "disabled", as: Bool.self),
            privateRepoLimit: try row.decode(column: "private_repo_limit", as: Int?.self),
            defaultPrivate: try row.decode(column: "default_private", as: Bool.self),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            pullLimit: try row.decode(column: "pull_limit", as: Int?.self)
        )
    }

    public func updateAccount(_ name: String, _ c: AccountChanges) async throws -> Bool {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM accounts WHERE name = \(bind: name)").first() != nil else { return false }
            if let v = c.passwordHash { try await db.raw("UPDATE accounts SET password_hash = \(bind: v) WHERE name = \(bind: name)").run() }
            if let v = c.email { try await db.raw("UPDATE accounts SET email = \(bind: v) WHERE name = \(bind: name)").run() }
            if let v = c.isAdmin { try await db.raw("UPDATE accounts SET is_admin = \(bind: v) WHERE name = \(bind: name)").run() }
            if let v = c.disabled { try await db.raw("UPDATE accounts SET disabled = \(bind: v) WHERE name = \(bind: name)").run() }
            if let v = c.defaultPrivate { try await db.raw("UPDATE accounts SET default_private = \(bind: v) WHERE name = \(bind: name)").run() }
            if let v = c.privateRepoLimit {
                try await db.raw("UPDATE accounts SET private_repo_limit = \(bind: v) WHERE name = \(bind: name)").run()
            }
            if let v = c.pullLimit { try await db.raw("UPDATE accounts SET pull_limit = \(bind: v) WHERE name = \(bind: name)").run() }
            return true
        }
    }

    public func adminCount() async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM accounts WHERE is_admin = TRUE AND disabled = FALSE")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    // MARK: Tokens

    public func createToken(_ t: AccessToken, hash: String) async throws {
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO access_tokens (id, account, name, kind, scope, token_hash, created_at, last_used_at, expires_at,
                                           active, creator_ip, creator_agent)
                VALUES (\(bind: t.id), \(bind: t.account), \(bind: t.name), \(bind: t.kind.rawValue), \(bind: t.scope.rawValue),
                        \(bind: hash), \(bind: t.createdAt.timeIntervalSince1970), \(bind: t.lastUsedAt?.timeIntervalSince1970),
                        \(bind: t.expiresAt?.timeIntervalSince1970), \(bind: t.isActive), \(bind: t.creatorAddress), \(bind: t.creatorAgent))
                """).run()
        }
    }

    public func token(hash: String, at time: Date) async throws -> AccessToken? {
        try await db.raw("""
            SELECT * FROM access_tokens WHERE token_hash = \(bind: hash) AND active = TRUE
            AND (expires_at IS NULL OR expires_at > \(bind: time.timeIntervalSince1970))
            """).first().map(Self.decodeToken)
    }

    public func tokens(of account: String) async throws -> [AccessToken] {
        try await db.raw("SELECT * FROM access_tokens WHERE account = \(bind: account) ORDER BY created_at, id")
            .all().map(Self.decodeToken)
    }

    static func decodeToken(_ row: any SQLRow) throws -> AccessToken {
        AccessToken(
            id: try row.decode(column: "id", as: String.self),
            account: try row.decode(column: "account", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            kind: AccessToken.Kind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .personal,
            scope: TokenScope(rawValue: try row.decode(column: "scope", as: String.self)) ?? .read,
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            lastUsedAt: try row.decode(column: "last_used_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            expiresAt: try row.decode(column: "expires_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            isActive: try row.decode(column: "active", as: Bool.self),
            creatorAddress: try row.decode(column: "creator_ip", as: String?.self),
            creatorAgent: try row.decode(column: "creator_agent", as: String?.self)
        )
    }

    public func token(id: String, of account: String) async throws -> AccessToken? {
        try await db.raw("SELECT * FROM access_tokens WHERE id = \(bind: id) AND account = \(bind: account)").first().map(Self.decodeToken)
    }

    public func updateToken(_ id: String, of account: String, name: String?, isActive: Bool?) async throws -> AccessToken? {
        try await access.transaction { db in
            if let name {
                try await db.raw("UPDATE access_tokens SET name = \(bind: name) WHERE id = \(bind: id) AND account = \(bind: account)").run()
            }
            if let isActive {
                try await db.raw("UPDATE access_tokens SET active = \(bind: isActive) WHERE id = \(bind: id) AND account = \(bind: account)").run()
            }
            return try await db.raw("SELECT * FROM access_tokens WHERE id = \(bind: id) AND account = \(bind: account)")
                .first().map(Self.decodeToken)
        }
    }

    public func revokeToken(_ id: String, of account: String) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM access_tokens WHERE id = \(bind: id) AND account = \(bind: account)",
            change: "DELETE FROM access_tokens WHERE id = \(bind: id) AND account = \(bind: account)"
        )
    }

    public func touchToken(_ id: String, at time: Date) async throws {
        try await access.transaction { db in
            try await db.raw("UPDATE access_tokens SET last_used_at = \(bind: time.timeIntervalSince1970) WHERE id = \(bind: id)").run()
        }
    }
}
