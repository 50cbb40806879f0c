import ArgumentParser
import Foundation
import Logging
import WharfMetadata

/// The data directory an operator command works on, with the account store opened over it.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Folder with wharf.db [WHARF_DATA_DIR] (default: ./wharf-data).")
    var dataDirectory: String?

    /// Opens the database (migrating it if needed), runs `body`, and closes it.
    func withAccounts<R>(_ body: (SQLAccountStore) async throws -> R) async throws -> R {
        let folder = dataDirectory ?? ProcessInfo.processInfo.environment["WHARF_DATA_DIR"] ?? "./wharf-data"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "wharf")
        logger.logLevel = .error
        let access = try await SQLiteDatabaseAccess.open(path: "\(folder)/wharf.db", readers: 1, logger: logger)
        _ = try await SQLMetadataStore.open(access)
        do {
            let result = try await body(SQLAccountStore(access))
            try await access.shutdown()
            return result
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
