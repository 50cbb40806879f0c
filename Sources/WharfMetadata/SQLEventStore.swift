import Foundation
import SQLKit
import WharfCore

/// `EventStore` over the `events` table.
struct SQLEventStore: EventStore {
    let access: any SQLDatabaseAccess

    @discardableResult
    func record(_ event: HubEvent) async throws -> Int64 {
        try await access.transaction { db in
            let row = try await db.raw("""
                INSERT INTO events (kind, repository, actor, tag, digest, created_at)
                VALUES (\(bind: event.kind.rawValue), \(bind: event.repository.value), \(bind: event.actor), \(bind: event.tag),
                        \(bind: event.digest?.description), \(bind: event.createdAt.timeIntervalSince1970))
                RETURNING id
                """).first()
            return try row?.decode(column: "id", as: Int64.self) ?? 0
        }
    }

    func events(after id: Int64, limit: Int) async throws -> [HubEvent] {
        try await access.reader.raw("""
            SELECT id, kind, repository, actor, tag, digest, created_at FROM events
            WHERE id > \(bind: id) ORDER BY id LIMIT \(bind: limit)
            """).all().compactMap { row in
            guard let kind = HubEvent.Kind(rawValue: try row.decode(column: "kind", as: String.self)),
                  let repository = RepositoryName(try row.decode(column: "repository", as: String.self)) else { return nil }
            return HubEvent(
                id: try row.decode(column: "id", as: Int64.self), kind: kind, repository: repository,
                actor: try row.decode(column: "actor", as: String?.self), tag: try row.decode(column: "tag", as: String?.self),
                digest: try row.decode(column: "digest", as: String?.self).flatMap { Digest($0) },
                createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self))
            )
        }
    }
}
