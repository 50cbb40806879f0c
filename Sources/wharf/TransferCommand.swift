import ArgumentParser
import Foundation
import Logging
import WharfCore
import WharfMetadata
import WharfServer
import WharfStorage

/// `wharf transfer`: moves an installation (e.g. the single-node SQLite + folder) to another
/// database and storage (e.g. PostgreSQL + S3), keeping every user, token, repository, tag,
/// grant and blob. Stop the server first; start it on the new location afterwards.
struct TransferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer", abstract: "Copy an installation to another database and storage (e.g. SQLite + folder to PostgreSQL + S3)."
    )
    @OptionGroup var store: StoreOptions
    @Option(help: "Blob storage to read from: file:PATH or s3://… (default: the data directory).") var storage: String?
    @Option(help: "The database to copy into (empty): sqlite:PATH or postgres://…") var toDatabase: String
    @Option(help: "The storage to copy blobs into: file:PATH or s3://… (credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).")
    var toStorage: String

    func run() async throws {
        var logger = Logger(label: "wharf")
        logger.logLevel = .error
        let environment = ProcessInfo.processInfo.environment
        var source = WharfConfiguration()
        source.dataDirectory = store.dataDirectory ?? environment["WHARF_DATA_DIR"] ?? "./wharf-data"
        source.database = store.database ?? environment["WHARF_DATABASE"]
        var target = WharfConfiguration()
        target.database = toDatabase
        let from = try await source.openDatabase(logger: logger)
        let into: any SQLDatabaseAccess
        do {
            into = try await target.openDatabase(logger: logger)
        } catch {
            try? await from.shutdown()
            throw error
        }
        do {
            let rows = try await DatabaseTransfer.copy(from: from, to: into)
            let digests = try await from.reader.raw("SELECT digest FROM blobs ORDER BY digest").all()
                .compactMap { Digest(try $0.decode(column: "digest", as: String.self)) }
            let sourceBlobs = try ContentAddressedBlobStore.open(storage, dataDirectory: source.dataDirectory, environment: environment)
            let targetBlobs = try ContentAddressedBlobStore.open(toStorage, dataDirectory: source.dataDirectory, environment: environment)
            let copied = try await BlobTransfer.copy(digests, from: sourceBlobs, to: targetBlobs)
            print("copied \(rows.values.reduce(0, +)) rows (\(rows["accounts"] ?? 0) accounts, \(rows["repositories"] ?? 0) repositories, \(rows["tags"] ?? 0) tags) and \(copied) of \(digests.count) blobs")
        } catch {
            try? await from.shutdown()
            try? await into.shutdown()
            throw error
        }
        try await from.shutdown()
        try await into.shutdown()
    }
}
