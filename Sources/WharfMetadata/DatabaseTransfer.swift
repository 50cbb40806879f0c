import Foundation
import SQLKit

/// Copies everything an installation knows from one database to another (SQLite to PostgreSQL,
/// say): accounts, tokens, repositories (with READMEs, stars and pull counts), manifests, tags, grants, teams,
/// events, image platforms, webhooks with their delivery logs, build settings with their builds and logs, and the server's secrets. Upload sessions in progress, website sessions and queued jobs are not moved (clients restart
/// uploads, people log in again, recurring jobs schedule themselves again). The target must be empty; its schema is created first.
public enum DatabaseTransfer {
    /// How a column's values travel.
    enum Kind { case text, integer, real, boolean, bytes }

    /// The tables, parents before children, with their columns.
    static let tables: [(name: String, columns: [(String, Kind)])] = [
        ("accounts", [("name", .text), ("kind", .text), ("email", .text), ("password_hash", .text), ("is_admin", .boolean),
                      ("disabled", .boolean), ("private_repo_limit", .integer), ("default_private", .boolean), ("created_at", .real),
                      ("pull_limit", .integer)]),
        ("access_tokens", [("id", .text), ("account", .text), ("name", .text), ("kind", .text), ("scope", .text), ("token_hash", .text),
                           ("created_at", .real), ("last_used_at", .real), ("expires_at", .real), ("active", .boolean),
                           ("creator_ip", .text), ("creator_agent", .text)]),
        ("repositories", [("name", .text), ("namespace", .text), ("created_at", .real), ("is_private", .boolean), ("description", .text),
                          ("full_description", .text), ("updated_at", .real), ("pull_count", .integer), ("star_count", .integer)]),
        ("blobs", [("digest", .text), ("size", .integer), ("created_at", .real), ("orphaned_at", .real), ("deleting_at", .real)]),
        ("repository_blobs", [("repository", .text), ("digest", .text), ("created_at", .real)]),
        ("manifests", [("repository", .text), ("digest", .text), ("media_type", .text), ("artifact_type", .text), ("subject", .text),
                       ("annotations", .text), ("content", .bytes), ("created_at", .real), ("pulled_at", .real),
                       ("untagged_since", .real)]),
        ("manifest_references", [("repository", .text), ("manifest", .text), ("digest", .text), ("kind", .text)]),
        ("tags", [("repository", .text), ("name", .text), ("manifest", .text), ("updated_at", .real), ("pushed_by", .text),
                  ("pulled_at", .real)]),
        ("stars", [("repository", .text), ("account", .text), ("created_at", .real)]),
        ("image_configs", [("digest", .text), ("os", .text), ("architecture", .text), ("variant", .text), ("history", .text)]),
        ("collaborators", [("repository", .text), ("account", .text), ("permission", .integer)]),
        ("teams", [("organization", .text), ("name", .text), ("created_at", .real)]),
        ("team_members", [("organization", .text), ("team", .text), ("account", .text)]),
        ("team_repositories", [("organization", .text), ("team", .text), ("repository", .text), ("permission", .integer)]),
        ("events", [("id", .integer), ("kind", .text), ("repository", .text), ("actor", .text), ("tag", .text), ("digest", .text),
                    ("created_at", .real)]),
        ("server_secrets", [("name", .text), ("value", .text), ("created_at", .real)]),
        ("webhooks", [("id", .integer), ("repository", .text), ("organization", .text), ("name", .text), ("url", .text), ("events", .text),
                      ("format", .text), ("secret", .text), ("enabled", .boolean), ("disabled_reason", .text),
                      ("consecutive_failures", .integer), ("created_by", .text), ("created_at", .real), ("updated_at", .real),
                      ("retired_at", .real)]),
        ("webhook_deliveries", [("number", .integer), ("id", .text), ("webhook", .integer), ("event_id", .integer), ("event", .text),
                                ("body", .text), ("state", .text), ("attempts", .integer), ("next_attempt_at", .real),
                                ("created_at", .real), ("finished_at", .real), ("redelivery_of", .text), ("validation", .text)]),
        ("webhook_attempts", [("delivery", .text), ("number", .integer), ("started_at", .real), ("duration_ms", .integer),
                              ("status_code", .integer), ("error", .text), ("response_excerpt", .text)]),
        ("build_settings", [("repository", .text), ("git_url", .text), ("credentials", .text), ("autobuild", .boolean), ("rules", .text),
                            ("trigger_id", .text), ("trigger_secret", .text), ("updated_by", .text), ("updated_at", .real), ("poll", .boolean),
                            ("polled_refs", .text)]),
        ("builds", [("id", .integer), ("repository", .text), ("source_type", .text), ("ref", .text), ("rule", .text), ("image_tag", .text),
                    ("status", .text), ("commit_sha", .text), ("error", .text), ("triggered_by", .text), ("cancel_requested", .boolean),
                    ("created_at", .real), ("started_at", .real), ("finished_at", .real)]),
        ("build_logs", [("build", .integer), ("chunk", .integer), ("text", .text)]),
        ("repository_policies", [("repository", .text), ("immutable_tags", .text), ("retention", .text), ("updated_at", .real)]),
        ("namespace_policies", [("namespace", .text), ("retention", .text), ("updated_at", .real)]),
        ("namespace_quotas", [("namespace", .text), ("bytes", .integer), ("updated_at", .real)]),
        ("audit_log", [("id", .integer), ("at", .real), ("actor", .text), ("action", .text), ("namespace", .text), ("repository", .text),
                       ("target", .text), ("client_address", .text), ("details", .text)]),
    ]

    /// Copies every table; returns the rows copied per table.
    @discardableResult
    public static func copy(from source: any SQLDatabaseAccess, to target: any SQLDatabaseAccess) async throws -> [String: Int] {
        _ = try await Stores.open(source)
        _ = try await Stores.open(target)
        let targetAccounts = try await target.reader.raw("SELECT COUNT(*) AS n FROM accounts").first()?.decode(column: "n", as: Int.self) ?? 0
        guard targetAccounts == 0 else { throw TransferError("the target database already has accounts; transfer into an empty one") }
        var copied: [String: Int] = [:]
        for table in tables {
            let rows = try await source.reader.raw("SELECT * FROM \(unsafeRaw: table.name)").all()
            let values = try rows.map { row in try table.columns.map { try value(row, $0.0, $0.1) } }
            try await target.transaction { db in
                for chunk in stride(from: 0, to: values.count, by: 200).map({ Array(values[$0..<min($0 + 200, values.count)]) }) {
                    for row in chunk {
                        let columns = SQLList(table.columns.map { SQLIdentifier($0.0) })
                        let binds = SQLList(row.map { SQLBind($0) })
                        try await db.raw("INSERT INTO \(unsafeRaw: table.name) (\(columns)) VALUES (\(binds))").run()
                    }
                }
            }
            copied[table.name] = values.count
        }
        if target.flavor == .postgres {
            // Rows came with their ids: the sequence continues after the highest.
            for (table, column) in [("events", "id"), ("webhooks", "id"), ("webhook_deliveries", "number"), ("builds", "id"), ("audit_log", "id")] {
                try await target.reader.raw("""
                    SELECT setval(pg_get_serial_sequence('\(unsafeRaw: table)', '\(unsafeRaw: column)'),
                                  COALESCE((SELECT MAX(\(unsafeRaw: column)) FROM \(unsafeRaw: table)), 0) + 1, false)
                    """).run()
            }
        }
        return copied
    }

    private static func value(_ row: any SQLRow, _ column: String, _ kind: Kind) throws -> any Encodable & Sendable {
        if try row.decodeNil(column: column) {
            // A NULL of the column's own type: PostgreSQL refuses a text NULL in a number column.
            switch kind {
            case .text: return Optional<String>.none
            case .integer: return Optional<Int64>.none
            case .real: return Optional<Double>.none
            case .boolean: return Optional<Bool>.none
            case .bytes: return Optional<Data>.none
            }
        }
        switch kind {
        case .text: return try row.decode(column: column, as: String.self)
        case .integer: return try row.decode(column: column, as: Int64.self)
        case .real: return try row.decode(column: column, as: Double.self)
        case .boolean: return try row.decode(column: column, as: Bool.self)
        case .bytes: return try row.decode(column: column, as: Data.self)
        }
    }
}

/// A transfer that cannot go ahead.
public struct TransferError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
