import Foundation
import SQLKit
import WharfCore

/// Secrets every replica must share (the token signing key), kept in the database so that
/// replicas share nothing but it and the object store.
public protocol SecretStore: Sendable {
    /// The secret `name`, created with `make` by whichever replica asks first.
    func obtain(_ name: String, make: @escaping @Sendable () -> String) async throws -> String
}

/// `SecretStore` over the `server_secrets` table.
struct SQLSecretStore: SecretStore {
    let access: any SQLDatabaseAccess
    let clock: any WallClock

    func obtain(_ name: String, make: @escaping @Sendable () -> String) async throws -> String {
        let now = clock.now.timeIntervalSince1970
        return try await access.transaction { db in
            // Two replicas starting together: the first insert wins, both read the same value.
            try await db.raw("""
                INSERT INTO server_secrets (name, value, created_at) VALUES (\(bind: name), \(bind: make()), \(bind: now))
                ON CONFLICT (name) DO NOTHING
                """).run()
            guard let value = try await db.raw("SELECT value FROM server_secrets WHERE name = \(bind: name)").first()?
                .decode(column: "value", as: String.self) else { throw StoreError.notFound }
            return value
        }
    }
}
