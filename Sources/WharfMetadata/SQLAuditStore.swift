import Foundation
import SQLKit

/// `AuditStore` over `audit_log`.
struct SQLAuditStore: AuditStore {
    let access: any SQLDatabaseAccess

    func record(_ entry: AuditEntry) async throws {
        let details = entry.details.isEmpty ? nil : String(decoding: try JSONEncoder().encode(entry.details), as: UTF8.self)
        try await access.transaction { db in
            try await db.raw("""
                INSERT INTO audit_log (at, actor, action, namespace, repository, target, client_address, details)
                VALUES (\(bind: entry.at.timeIntervalSince1970), \(bind: entry.actor), \(bind: entry.action), \(bind: entry.namespace),
                        \(bind: entry.repository), \(bind: entry.target), \(bind: entry.clientAddress), \(bind: details))
                """).run()
        }
    }

    func entries(_ filter: AuditFilter, offset: Int, limit: Int) async throws -> (entries: [AuditEntry], total: Int) {
        if let namespaces = filter.namespaces, namespaces.isEmpty { return ([], 0) }
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let actor = filter.actor { conditions.append("actor = \(bind: actor)") }
        if let action = filter.action { conditions.append("action = \(bind: action)") }
        if let repository = filter.repository { conditions.append("repository = \(bind: repository)") }
        if let since = filter.since { conditions.append("at >= \(bind: since.timeIntervalSince1970)") }
        if let until = filter.until { conditions.append("at <= \(bind: until.timeIntervalSince1970)") }
        if let namespaces = filter.namespaces { conditions.append("namespace IN (\(binds: namespaces))") }
        var condition = conditions[0]
        for next in conditions.dropFirst() { condition = "\(condition) AND \(next)" }
        let db = access.reader
        let total = try await db.raw("SELECT COUNT(*) AS n FROM audit_log WHERE \(condition)").first()?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await db.raw("""
            SELECT id, at, actor, action, namespace, repository, target, client_address, details FROM audit_log
            WHERE \(condition) ORDER BY at DESC, id DESC LIMIT \(bind: limit) OFFSET \(bind: offset)
            """).all()
        return (try rows.map(Self.decode), total)
    }

    private static func decode(_ row: any SQLRow) throws -> AuditEntry {
        let details = try row.decode(column: "details", as: String?.self).flatMap {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))
        } ?? [:]
        return AuditEntry(
            id: try row.decode(column: "id", as: Int64.self),
            at: Date(timeIntervalSince1970: try row.decode(column: "at", as: Double.self)),
            actor: try row.decode(column: "actor", as: String?.self),
            action: try row.decode(column: "action", as: String.self),
            namespace: try row.decode(column: "namespace", as: String?.self),
            repository: try row.decode(column: "repository", as: String?.self),
            target: try row.decode(column: "target", as: String?.self),
            clientAddress: try row.decode(column: "client_address", as: String?.self),
            details: details
        )
    }
}
