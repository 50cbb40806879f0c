import ArgumentParser
import Foundation
import Hummingbird
import Logging
import WharfServer

/// `wharf serve`: runs the registry until SIGTERM or SIGINT, then shuts down gracefully.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the registry (the default command).",
        discussion: """
            Every option can also be set in the environment (shown in brackets); a flag wins over \
            the environment, which wins over the default. Data lives in the data directory: \
            wharf.db (SQLite), blobs/ and uploads/. On first start with no administrator, an \
            `admin` account is created with the password in WHARF_ADMIN_PASSWORD, or a random \
            one printed once in the log.
            """
    )

    @Option(help: "Address to listen on [WHARF_HOST] (default: 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one [WHARF_PORT] (default: 5000).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Folder for the database and blobs [WHARF_DATA_DIR] (default: ./wharf-data).")
    var dataDirectory: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical [WHARF_LOG_LEVEL] (default: info).")
    var logLevel: String?

    @Option(help: "text or json [WHARF_LOG_FORMAT] (default: text).")
    var logFormat: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; with --tls-key, serve HTTPS [WHARF_TLS_CERT].")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert [WHARF_TLS_KEY].")
    var tlsKey: String?

    @Option(help: "Seconds an idle upload session lives before it expires and its bytes are reclaimed [WHARF_UPLOAD_EXPIRY] (default: 86400).")
    var uploadExpiry: Double?

    @Option(help: "Allow sign-up through the API: true or false [WHARF_SIGNUP] (default: true).")
    var signup: Bool?

    @Option(help: "Private repositories an account may have unless an admin sets its own limit [WHARF_PRIVATE_REPO_LIMIT] (default: 1).")
    var privateRepoLimit: Int?

    @Option(help: "Lifetime of registry bearer tokens in seconds [WHARF_TOKEN_LIFETIME] (default: 300).")
    var tokenLifetime: Double?

    func run() async throws {
        MemoryTuning.apply()
        let configuration = try resolve(environment: ProcessInfo.processInfo.environment)
        let logger = WharfLogging.makeLogger(level: configuration.logLevel, format: configuration.logFormat)
        let app = try await buildApplication(configuration, logger: logger)
        try await app.runService()
    }

    /// Flags, then `WHARF_…` environment variables, then defaults.
    func resolve(environment env: [String: String]) throws -> WharfConfiguration {
        var c = WharfConfiguration()
        c.host = host ?? env["WHARF_HOST"] ?? c.host
        if let value = port ?? env["WHARF_PORT"].flatMap(Int.init) { c.port = value }
        if env["WHARF_PORT"] != nil && port == nil && Int(env["WHARF_PORT"]!) == nil {
            throw ValidationError("WHARF_PORT must be a number")
        }
        c.dataDirectory = dataDirectory ?? env["WHARF_DATA_DIR"] ?? c.dataDirectory
        if let raw = logLevel ?? env["WHARF_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw ValidationError("unknown log level \(raw)")
            }
            c.logLevel = level
        }
        if let raw = logFormat ?? env["WHARF_LOG_FORMAT"] {
            guard let format = WharfConfiguration.LogFormat(rawValue: raw.lowercased()) else {
                throw ValidationError("log format must be text or json")
            }
            c.logFormat = format
        }
        c.tlsCertificatePath = tlsCertificate ?? env["WHARF_TLS_CERT"]
        c.tlsKeyPath = tlsKey ?? env["WHARF_TLS_KEY"]
        if (c.tlsCertificatePath == nil) != (c.tlsKeyPath == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let value = uploadExpiry ?? env["WHARF_UPLOAD_EXPIRY"].flatMap(Double.init) {
            guard value > 0 else { throw ValidationError("--upload-expiry must be positive") }
            c.uploadExpiry = value
            c.janitorInterval = min(c.janitorInterval, max(value / 4, 0.5))
        }
        if let value = signup ?? env["WHARF_SIGNUP"].flatMap(Bool.init) { c.signupEnabled = value }
        if let value = privateRepoLimit ?? env["WHARF_PRIVATE_REPO_LIMIT"].flatMap(Int.init) {
            guard value >= 0 else { throw ValidationError("--private-repo-limit cannot be negative") }
            c.defaultPrivateRepoLimit = value
        }
        if let value = tokenLifetime ?? env["WHARF_TOKEN_LIFETIME"].flatMap(Double.init) {
            guard value >= 1 else { throw ValidationError("--token-lifetime must be at least 1 second") }
            c.tokenLifetime = value
        }
        c.initialAdminPassword = env["WHARF_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        return c
    }
}
