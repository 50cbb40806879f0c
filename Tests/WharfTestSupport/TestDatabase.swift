import Foundation
import Logging
import WharfMetadata

/// The databases the tests run against: SQLite always; PostgreSQL when `WHARF_TEST_POSTGRES_URL`
/// names a server the tests may create databases on (`scripts/test` starts one).
public enum TestDatabase: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The server URL for PostgreSQL tests, if any.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["WHARF_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// SQLite, and PostgreSQL when a server is configured.
    public static var available: [TestDatabase] {
        postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    /// A fresh, empty database of this kind, handed to `body` and removed afterwards.
    public func withFreshDatabase(_ body: (any SQLDatabaseAccess) async throws -> Void) async throws {
        let logger = Logger(label: "test")
        switch self {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-db-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let access = try await SQLiteDatabaseAccess.open(path: "\(folder)/wharf.db", logger: logger)
            try await Self.run(body, on: access)
        case .postgres:
            guard let server = Self.postgresURL, var url = URLComponents(string: server) else {
                throw TestDatabaseError("WHARF_TEST_POSTGRES_URL is not set")
            }
            let name = "wharf_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
            let admin = try PostgresDatabaseAccess(url: server, connections: 1, logger: logger)
            try await admin.reader.raw("CREATE DATABASE \(unsafeRaw: name)").run()
            url.path = "/\(name)"
            do {
                let access = try PostgresDatabaseAccess(url: url.string!, connections: 2, logger: logger)
                try await Self.run(body, on: access)
            } catch {
                try? await admin.reader.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run()
                try? await admin.shutdown()
                throw error
            }
            try await admin.reader.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run()
            try await admin.shutdown()
        }
    }

    private static func run(_ body: (any SQLDatabaseAccess) async throws -> Void, on access: any SQLDatabaseAccess) async throws {
        do {
            try await body(access)
        } catch {
            try? await access.shutdown()
            throw error
        }
        try await access.shutdown()
    }
}

/// The test database could not be set up.
public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
