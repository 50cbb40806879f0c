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

    @Option(help: "The URL people reach the server on, for links in webhook payloads [WHARF_PUBLIC_URL] (default: http://HOST:PORT).")
    var publicURL: String?

    @Option(help: "Let webhooks call loopback, private and link-local addresses: true or false [WHARF_WEBHOOK_ALLOW_PRIVATE] (default: false).")
    var webhookAllowPrivate: String?

    @Option(help: "Networks webhooks may call even when private addresses are refused, e.g. 10.1.0.0/16 [WHARF_WEBHOOK_ALLOWED_NETWORKS] (default: none).")
    var webhookAllowedNetworks: String?

    @Option(help: "Seconds one webhook attempt may take [WHARF_WEBHOOK_TIMEOUT] (default: 10).")
    var webhookTimeout: String?

    @Option(help: "Seconds before a failed webhook delivery is retried; doubles each time [WHARF_WEBHOOK_RETRY_DELAY] (default: 5).")
    var webhookRetryDelay: String?

    @Option(help: "Longest wait between webhook retries, in seconds [WHARF_WEBHOOK_RETRY_MAX_DELAY] (default: 3600).")
    var webhookRetryMaxDelay: String?

    @Option(help: "Seconds a webhook delivery is retried before it fails for good [WHARF_WEBHOOK_RETRY_FOR] (default: 86400).")
    var webhookRetryFor: String?

    @Option(help: "Deliveries in a row that fail for good before a webhook is disabled [WHARF_WEBHOOK_DISABLE_AFTER] (default: 10).")
    var webhookDisableAfter: String?

    @Option(help: "Webhooks delivered at the same time [WHARF_WEBHOOK_WORKERS] (default: 4).")
    var webhookWorkers: String?

    @Option(help: "What automated builds run on: auto (buildah when installed), buildah, docker or none [WHARF_BUILD_ENGINE] (default: auto).")
    var buildEngine: String?

    @Option(help: "The Docker engine for --build-engine docker, e.g. unix:///var/run/docker.sock [WHARF_DOCKER_HOST] (default: docker's own).")
    var dockerHost: String?

    @Option(help: "Builds run at the same time on this server [WHARF_BUILD_WORKERS] (default: 1).")
    var buildWorkers: String?

    @Option(help: "Seconds a build may take before it is stopped [WHARF_BUILD_TIMEOUT] (default: 3600).")
    var buildTimeout: String?

    @Option(help: "Memory per build, e.g. 2g [WHARF_BUILD_MEMORY] (default: no limit).")
    var buildMemory: String?

    @Option(help: "Processes per build [WHARF_BUILD_PIDS] (default: no limit).")
    var buildPids: String?

    @Option(help: "Let RUN steps reach the network: true or false [WHARF_BUILD_NETWORK] (default: false).")
    var buildNetwork: String?

    @Option(help: "Seconds between polls of git URLs whose build settings ask for polling [WHARF_BUILD_POLL_INTERVAL] (default: 300).")
    var buildPollInterval: String?

    @Option(help: "Seconds between garbage collections, 0 for never [WHARF_GC_INTERVAL] (default: 3600).")
    var gcInterval: String?

    @Option(help: "Seconds a blob stays unlinked (and a link unused) before garbage collection reclaims it [WHARF_GC_GRACE_PERIOD] (default: 3600).")
    var gcGracePeriod: String?

    @Option(help: "Seconds an untagged manifest is kept (unless an index or a referrer refers to it), or never [WHARF_GC_UNTAGGED_AGE] (default: 86400).")
    var gcUntaggedAge: String?

    @Option(help: "Seconds between runs of the repositories' retention policies, 0 for on demand only [WHARF_RETENTION_INTERVAL] (default: 3600).")
    var retentionInterval: String?

    @Option(help: "Manifest pulls per window for each anonymous client address [WHARF_PULL_LIMIT_ANONYMOUS] (default: no limit).")
    var pullLimitAnonymous: String?

    @Option(help: "Manifest pulls per window for each account, unless an admin set its own [WHARF_PULL_LIMIT_AUTHENTICATED] (default: no limit).")
    var pullLimitAuthenticated: String?

    @Option(help: "Seconds of one pull-limit window [WHARF_PULL_LIMIT_WINDOW] (default: 21600, as Docker Hub).")
    var pullLimitWindow: String?

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
            ("pull-count-interval", pullCountInterval), ("public-url", publicURL), ("webhook-allow-private", webhookAllowPrivate),
            ("webhook-allowed-networks", webhookAllowedNetworks), ("webhook-timeout", webhookTimeout),
            ("webhook-retry-delay", webhookRetryDelay), ("webhook-retry-max-delay", webhookRetryMaxDelay),
            ("webhook-retry-for", webhookRetryFor), ("webhook-disable-after", webhookDisableAfter), ("webhook-workers", webhookWorkers),
            ("build-engine", buildEngine), ("docker-host", dockerHost), ("build-workers", buildWorkers), ("build-timeout", buildTimeout),
            ("build-memory", buildMemory), ("build-pids", buildPids), ("build-network", buildNetwork), ("build-poll-interval", buildPollInterval),
            ("gc-interval", gcInterval), ("gc-grace-period", gcGracePeriod), ("gc-untagged-age", gcUntaggedAge),
            ("retention-interval", retentionInterval), ("pull-limit-anonymous", pullLimitAnonymous),
            ("pull-limit-authenticated", pullLimitAuthenticated), ("pull-limit-window", pullLimitWindow),
            ("signup", signup), ("private-repo-limit", privateRepoLimit), ("token-lifetime", tokenLifetime),
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
