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
            Each option can be given as a flag, as an environment variable (shown in brackets), or \
            in a config file (--config FILE, JSON or YAML, whose keys are the flags' names, e.g. \
            {"port": 5000, "data-dir": "/srv/wharf"}). A flag wins over the environment, which wins \
            over the file, which wins over the default. Data lives in the data directory: wharf.db \
            (SQLite), blobs/ and uploads/. On first start with no administrator, an `admin` account \
            is created with the password in WHARF_ADMIN_PASSWORD (or admin-password in the file), or \
            a random one printed once.
            """
    )

    @Option(help: "A JSON or YAML file of settings, keyed by the flags' names [WHARF_CONFIG].")
    var config: String?

    @Option(help: "Address to listen on [WHARF_HOST] (default: 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one [WHARF_PORT] (default: 5000).")
    var port: String?

    @Option(name: .customLong("data-dir"), help: "Folder for the database and blobs [WHARF_DATA_DIR] (default: ./wharf-data).")
    var dataDirectory: String?

    @Option(help: "Metadata database: sqlite:PATH or postgres://user:password@host:port/database [WHARF_DATABASE] (default: sqlite in the data directory).")
    var database: String?

    @Option(help: "PostgreSQL connections per core [WHARF_DATABASE_CONNECTIONS] (default: 8).")
    var databaseConnections: String?

    @Option(help: "Blob storage: file:PATH or s3://bucket/prefix?endpoint=URL&region=R&path_style=true, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY [WHARF_STORAGE] (default: the data directory).")
    var storage: String?

    @Option(help: "Load balancers whose X-Forwarded-For / Forwarded / X-Forwarded-Proto headers are believed, e.g. 10.0.0.0/8,::1 [WHARF_TRUSTED_PROXIES] (default: none).")
    var trustedProxies: String?

    @Option(help: "Blob GETs answer 307 to a presigned object-store URL (S3 storage): true or false [WHARF_BLOB_REDIRECT] (default: false).")
    var blobRedirect: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical [WHARF_LOG_LEVEL] (default: info).")
    var logLevel: String?

    @Option(help: "text or json [WHARF_LOG_FORMAT] (default: text).")
    var logFormat: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; with --tls-key, serve HTTPS [WHARF_TLS_CERT].")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert [WHARF_TLS_KEY].")
    var tlsKey: String?

    @Option(help: "Seconds an idle upload session lives before it expires and its bytes are reclaimed [WHARF_UPLOAD_EXPIRY] (default: 86400).")
    var uploadExpiry: String?

    @Option(help: "Seconds between writes of the pull counts kept in memory; a crash loses at most the last interval's [WHARF_PULL_COUNT_INTERVAL] (default: 1).")
    var pullCountInterval: String?

    @Option(help: "Allow sign-up through the API: true or false [WHARF_SIGNUP] (default: true).")
    var signup: String?

    @Option(help: "Private repositories an account may have unless an admin sets its own limit [WHARF_PRIVATE_REPO_LIMIT] (default: 1).")
    var privateRepoLimit: String?

    @Option(help: "Lifetime of registry bearer tokens in seconds [WHARF_TOKEN_LIFETIME] (default: 300).")
    var tokenLifetime: String?

    /// The flags given, by their names.
    var flags: [String: String] {
        let all: [(String, String?)] = [
            ("config", config), ("host", host), ("port", port), ("data-dir", dataDirectory), ("database", database),
            ("database-connections", databaseConnections), ("storage", storage), ("blob-redirect", blobRedirect),
            ("trusted-proxies", trustedProxies), ("log-level", logLevel),
            ("log-format", logFormat), ("tls-cert", tlsCertificate), ("tls-key", tlsKey), ("upload-expiry", uploadExpiry),
            ("pull-count-interval", pullCountInterval), ("signup", signup), ("private-repo-limit", privateRepoLimit), ("token-lifetime", tokenLifetime),
        ]
        return Dictionary(uniqueKeysWithValues: all.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        MemoryTuning.apply()
        let configuration = try await ConfigurationLoader.load(flags: flags, environment: ProcessInfo.processInfo.environment)
        let logger = WharfLogging.makeLogger(level: configuration.logLevel, format: configuration.logFormat)
        let app = try await buildApplication(configuration, logger: logger)
        try await app.runService()
    }
}
