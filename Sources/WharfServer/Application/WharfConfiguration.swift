import Foundation
import Logging
import WharfMetadata
import WharfHub

/// Everything `wharf serve` can be told, resolved once from flags, then environment, then defaults.
public struct WharfConfiguration: Sendable {
    public enum LogFormat: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var host = "127.0.0.1"
    public var port = 5000
    public var dataDirectory = "./wharf-data"
    /// Where metadata lives: `sqlite:PATH`, or `postgres://user:password@host:port/database`;
    /// nil for SQLite in the data directory.
    public var database: String?
    /// Where blob bytes live: `file:PATH` or `s3://bucket/prefix?endpoint=…&region=…&path_style=true`;
    /// nil for the data directory.
    public var storage: String?
    /// Blob GETs answer 307 to a presigned object-store URL (S3 storage only).
    public var blobRedirect = false
    /// Proxies (load balancers) whose `X-Forwarded-For` / `Forwarded` / `X-Forwarded-Proto` are believed.
    public var trustedProxies = TrustedProxies.none
    /// PostgreSQL connections per event loop (one event loop per core).
    public var databaseConnections = 8
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text
    /// PEM certificate chain and private key; both set means HTTPS.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Seconds an upload session may stay idle before it expires and its bytes are reclaimed.
    public var uploadExpiry: Double = 24 * 3600
    /// How often the upload janitor looks for expired sessions, in seconds.
    public var janitorInterval: Double = 60
    /// How often pulls counted in memory are written to the database, in seconds (a crash loses at most this much).
    public var pullCountInterval: Double = 1

    /// The server's address as people reach it (`https://wharf.example.com`), for URLs written
    /// outside a request (webhook payloads); nil for `url()`.
    public var publicURL: String?
    /// How webhooks are delivered and which addresses they may call.
    public var webhooks = WebhookSettings()
    /// Webhooks delivered at the same time (each webhook's own deliveries go one at a time, in order).
    public var webhookWorkers = 4

    /// `auto` (buildah when installed), `buildah`, `docker` or `none`: what automated builds run on.
    public var buildEngine = "auto"
    /// The Docker engine for `--build-engine docker` (`unix:///var/run/docker.sock`, `tcp://…`); nil: docker's default.
    public var dockerHost: String?
    /// Builds run at the same time on this replica.
    public var buildWorkers = 1
    /// Seconds between polls of the git URLs that asked for polling.
    public var buildPollInterval: Double = 300
    /// Time, memory, processes and network of each build.
    public var buildLimits = BuildLimits()

    /// Seconds between garbage collections; 0: never on a schedule.
    public var gcInterval: Double = 3600
    /// What garbage collection may reclaim, and when.
    public var gcPolicy = GarbageCollector.Policy()
    /// Seconds between runs of the repositories' retention policies; 0: only on demand.
    public var retentionInterval: Double = 3600
    /// Pull rate limits (off unless set).
    public var pullLimits = PullLimiter.Settings()

    /// Whether people may sign up through the API.
    public var signupEnabled = true
    /// Private repositories per account unless an admin sets another limit.
    public var defaultPrivateRepoLimit = 1
    /// Lifetime of registry bearer tokens, in seconds.
    public var tokenLifetime: Double = 300
    /// Password of the first `admin` account, created on first start (random and logged when nil).
    public var initialAdminPassword: String?

    public init() {}

    /// Opens the metadata database this configuration names.
    public func openDatabase(logger: Logger) async throws -> any SQLDatabaseAccess {
        let location = database.flatMap { $0.isEmpty ? nil : $0 } ?? "sqlite:\(dataDirectory)/wharf.db"
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return try PostgresDatabaseAccess(url: location, connections: databaseConnections, logger: logger)
        }
        guard location.hasPrefix("sqlite:") else {
            throw ConfigurationError("database must be sqlite:PATH or postgres://user:password@host:port/database")
        }
        let path = String(location.dropFirst("sqlite:".count))
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        return try await SQLiteDatabaseAccess.open(path: path, logger: logger)
    }

    /// The account settings the hub runs with.
    public var hubSettings: HubSettings {
        var settings = HubSettings()
        settings.signupEnabled = signupEnabled
        settings.defaultPrivateRepoLimit = defaultPrivateRepoLimit
        settings.usesTLS = usesTLS
        settings.blobRedirectSeconds = blobRedirect ? 600 : nil
        settings.publicURL = publicURL ?? url()
        settings.webhooks = webhooks
        settings.garbageCollection = gcPolicy
        settings.pullLimits = pullLimits
        return settings
    }

    /// Whether the server speaks HTTPS.
    public var usesTLS: Bool { tlsCertificatePath != nil && tlsKeyPath != nil }

    /// The URL clients reach the server on.
    public func url(port actualPort: Int? = nil) -> String {
        "\(usesTLS ? "https" : "http")://\(address(port: actualPort))"
    }

    /// `host:port` as `docker login` takes it (the loopback address when listening on all of them).
    public func address(port actualPort: Int? = nil) -> String {
        let shown = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "[::1]" : host.contains(":") ? "[\(host)]" : host
        return "\(shown):\(actualPort ?? port)"
    }
}
