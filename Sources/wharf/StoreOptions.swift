import ArgumentParser
import Foundation
import Logging
import WharfHub
import WharfMetadata
import WharfServer
import WharfStorage

/// The data directory an operator command works on, with the hub's services opened over it.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Folder with wharf.db [WHARF_DATA_DIR] (default: ./wharf-data).")
    var dataDirectory: String?

    @Option(help: "Metadata database: sqlite:PATH or postgres://… [WHARF_DATABASE] (default: sqlite in the data directory).")
    var database: String?

    /// Opens the database (migrating it if needed), runs `body` with the services, and closes it.
    /// A rule the command breaks is reported as the services word it.
    func withHub<R>(storage: String? = nil, settings: HubSettings = HubSettings(), _ body: (Hub) async throws -> R) async throws -> R {
        let environment = ProcessInfo.processInfo.environment
        let folder = dataDirectory ?? environment["WHARF_DATA_DIR"] ?? "./wharf-data"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "wharf")
        logger.logLevel = .error
        var configuration = WharfConfiguration()
        configuration.dataDirectory = folder
        configuration.database = database ?? environment["WHARF_DATABASE"]
        configuration.databaseConnections = 1
        let access = try await configuration.openDatabase(logger: logger)
        do {
            let stores = try await Stores.open(access)
            let blobs = try ContentAddressedBlobStore.open(storage ?? environment["WHARF_STORAGE"], dataDirectory: folder, environment: environment)
            let hub = Hub(stores: stores, blobs: blobs, settings: settings)
            let result = try await body(hub)
            try await access.shutdown()
            return result
        } catch let error as HubError {
            try? await access.shutdown()
            throw ValidationError(error.message)
        } catch {
            try? await access.shutdown()
            throw error
        }
    }
}

/// Reads a password from standard input (first line), for `--password-stdin`.
func readPasswordFromStandardInput() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password on standard input")
    }
    return line
}

extension Bool {
    /// Parses true/false/yes/no/1/0.
    static func parseFlag(_ raw: String) throws -> Bool {
        switch raw.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ValidationError("expected true or false, got \(raw)")
        }
    }
}
