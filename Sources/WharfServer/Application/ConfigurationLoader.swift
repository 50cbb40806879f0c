import Configuration
import Foundation
import Logging
import SystemPackage
import WharfCore
import WharfHub

/// A setting that cannot be used, with a message naming it and where it may come from.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Resolves `wharf serve`'s settings once, through swift-configuration: flags, then the
/// environment (`WHARF_` + the flag's name in capitals, `-` as `_`), then an optional config file
/// (`--config FILE`, JSON or YAML, whose keys are the flags' names), then defaults. Every value
/// is checked the same way whatever its source: a bad one stops the start with a message naming it.
public enum ConfigurationLoader {
    /// `port` → `PORT`, `data-dir` → `DATA_DIR`.
    static func environmentName(_ key: String) -> String {
        key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    public static func load(flags: [String: String], environment: [String: String]) async throws -> WharfConfiguration {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: Dictionary(uniqueKeysWithValues: flags.map { (environmentName($0.key), $0.value) })),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) { key in
                AbsoluteConfigKey(["wharf"] + key.components, context: key.context)
            },
        ]
        if let path = flags["config"] ?? environment["WHARF_CONFIG"] {
            guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError("the config file \(path) does not exist") }
            do {
                if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
                } else {
                    providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
                }
            } catch {
                throw ConfigurationError("the config file \(path) cannot be read: \(error)")
            }
        }
        return try await resolve(ConfigReader(providers: providers))
    }

    static func resolve(_ reader: ConfigReader) async throws -> WharfConfiguration {
        let values = Values(reader: reader)
        var c = WharfConfiguration()
        if let host = try await values.string("host") { c.host = host }
        if let port = try await values.int("port") {
            try check(port, "port", (0...65535).contains(port), "a port from 0 to 65535 (0 picks a free one)")
            c.port = port
        }
        if let folder = try await values.string("data-dir") { c.dataDirectory = folder }
        if let database = try await values.string("database", secret: true) {
            guard database.hasPrefix("sqlite:") || database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") else {
                throw invalid("database", "(hidden)", "sqlite:PATH or postgres://user:password@host:port/database")
            }
            c.database = database
        }
        if let storage = try await values.string("storage") {
            guard storage.hasPrefix("file:") || storage.hasPrefix("s3://") else {
                throw invalid("storage", storage, "file:PATH or s3://bucket/prefix?endpoint=…&region=…&path_style=true")
            }
            c.storage = storage
        }
        if let redirect = try await values.bool("blob-redirect") { c.blobRedirect = redirect }
        if let proxies = try await values.string("trusted-proxies") {
            guard let parsed = TrustedProxies(proxies) else {
                throw invalid("trusted-proxies", proxies, "a comma-separated list of addresses and networks, such as 10.0.0.0/8,192.168.1.7")
            }
            c.trustedProxies = parsed
        }
        if let connections = try await values.int("database-connections") {
            try check(connections, "database-connections", connections >= 1, "at least 1")
            c.databaseConnections = connections
        }
        if let raw = try await values.string("log-level") {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw invalid("log-level", raw, "trace, debug, info, notice, warning, error or critical")
            }
            c.logLevel = level
        }
        if let raw = try await values.string("log-format") {
            guard let format = WharfConfiguration.LogFormat(rawValue: raw.lowercased()) else { throw invalid("log-format", raw, "text or json") }
            c.logFormat = format
        }
        c.tlsCertificatePath = try await values.string("tls-cert")
        c.tlsKeyPath = try await values.string("tls-key")
        if (c.tlsCertificatePath == nil) != (c.tlsKeyPath == nil) { throw ConfigurationError("tls-cert and tls-key go together") }
        if let expiry = try await values.double("upload-expiry") {
            try check(expiry, "upload-expiry", expiry > 0, "a positive number of seconds")
            c.uploadExpiry = expiry
            c.janitorInterval = min(c.janitorInterval, max(expiry / 4, 0.5))
        }
        if let interval = try await values.double("pull-count-interval") {
            try check(interval, "pull-count-interval", interval >= 0.05 && interval <= 3600, "between 0.05 and 3600 seconds")
            c.pullCountInterval = interval
        }
        try await resolveWebhooks(values, into: &c)
        try await resolveBuilds(values, into: &c)
        try await resolveLifecycle(values, into: &c)
        if let signup = try await values.bool("signup") { c.signupEnabled = signup }
        if let limit = try await values.int("private-repo-limit") {
            try check(limit, "private-repo-limit", limit >= 0, "a number of repositories, 0 or more")
            c.defaultPrivateRepoLimit = limit
        }
        if let lifetime = try await values.double("token-lifetime") {
            try check(lifetime, "token-lifetime", lifetime >= 1, "at least 1 second")
            c.tokenLifetime = lifetime
        }
        c.initialAdminPassword = try await values.string("admin-password", secret: true).flatMap { $0.isEmpty ? nil : $0 }
        return c
    }

    /// The public URL and the webhook settings.
    static func resolveWebhooks(_ values: Values, into c: inout WharfConfiguration) async throws {
        if let url = try await values.string("public-url") {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                throw invalid("public-url", url, "an http or https URL such as https://wharf.example.com")
            }
            c.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let allow = try await values.bool("webhook-allow-private") { c.webhooks.allowPrivate = allow }
        if let networks = try await values.string("webhook-allowed-networks") {
            guard let parsed = IPNetwork.list(networks) else {
                throw invalid("webhook-allowed-networks", networks, "a comma-separated list of addresses and networks, such as 10.1.0.0/16")
            }
            c.webhooks.allowedNetworks = parsed
        }
        let seconds: [(String, WritableKeyPath<WebhookSettings, Double>, ClosedRange<Double>)] = [
            ("webhook-timeout", \.timeout, 0.1...300), ("webhook-retry-delay", \.retryDelay, 0.01...86400),
            ("webhook-retry-max-delay", \.retryMaxDelay, 0.01...86400), ("webhook-retry-for", \.retryFor, 0...(30 * 86400)),
        ]
        for (key, path, range) in seconds {
            if let value = try await values.double(key) {
                try check(value, key, range.contains(value), "between \(range.lowerBound) and \(range.upperBound) seconds")
                c.webhooks[keyPath: path] = value
            }
        }
        if let count = try await values.int("webhook-disable-after") {
            try check(count, "webhook-disable-after", count >= 1, "at least 1")
            c.webhooks.disableAfter = count
        }
        if let workers = try await values.int("webhook-workers") {
            try check(workers, "webhook-workers", (1...64).contains(workers), "from 1 to 64")
            c.webhookWorkers = workers
        }
    }

    /// The build engine and the limits builds run under.
    static func resolveBuilds(_ values: Values, into c: inout WharfConfiguration) async throws {
        if let engine = try await values.string("build-engine") {
            guard ["auto", "buildah", "docker", "none"].contains(engine) else { throw invalid("build-engine", engine, "auto, buildah, docker or none") }
            c.buildEngine = engine
        }
        c.dockerHost = try await values.string("docker-host")
        if let workers = try await values.int("build-workers") {
            try check(workers, "build-workers", (1...16).contains(workers), "from 1 to 16")
            c.buildWorkers = workers
        }
        if let timeout = try await values.double("build-timeout") {
            try check(timeout, "build-timeout", timeout >= 1 && timeout <= 24 * 3600, "between 1 and 86400 seconds")
            c.buildLimits.timeout = timeout
        }
        if let memory = try await values.string("build-memory") {
            guard memory.range(of: "^[0-9]+[kmgKMG]?$", options: .regularExpression) != nil else {
                throw invalid("build-memory", memory, "a size such as 512m or 2g")
            }
            c.buildLimits.memory = memory
        }
        if let pids = try await values.int("build-pids") {
            try check(pids, "build-pids", pids >= 16, "at least 16")
            c.buildLimits.pids = pids
        }
        if let network = try await values.bool("build-network") { c.buildLimits.network = network }
        if let interval = try await values.double("build-poll-interval") {
            try check(interval, "build-poll-interval", interval >= 1 && interval <= 86400, "between 1 and 86400 seconds")
            c.buildPollInterval = interval
        }
    }

    /// Typed reads that turn a value of the wrong type, from any source, into a clear error.
    struct Values {
        let reader: ConfigReader

        /// The text of `key`; an empty value counts as unset (`WHARF_DATABASE=` means the default).
        func string(_ key: String, secret: Bool = false) async throws -> String? {
            let value = try await read(key, "text") { try await reader.fetchString(forKey: ConfigKey(key), isSecret: secret) }
            return value?.isEmpty == true ? nil : value
        }

        func int(_ key: String) async throws -> Int? {
            try await read(key, "a whole number") { try await reader.fetchInt(forKey: ConfigKey(key)) }
        }

        func double(_ key: String) async throws -> Double? {
            try await read(key, "a number") { try await reader.fetchDouble(forKey: ConfigKey(key)) }
        }

        func bool(_ key: String) async throws -> Bool? {
            try await read(key, "true or false") { try await reader.fetchBool(forKey: ConfigKey(key)) }
        }

        private func read<T>(_ key: String, _ expected: String, _ fetch: () async throws -> T?) async throws -> T? {
            do {
                return try await fetch()
            } catch {
                throw ConfigurationError("\(key) must be \(expected) (from --\(key), WHARF_\(environmentName(key)) or the config file)")
            }
        }
    }

    static func check<T>(_ value: T, _ key: String, _ valid: Bool, _ expected: String) throws {
        guard valid else { throw invalid(key, "\(value)", expected) }
    }

    static func invalid(_ key: String, _ value: String, _ expected: String) -> ConfigurationError {
        ConfigurationError("\(key) must be \(expected), not \(value) (from --\(key), WHARF_\(environmentName(key)) or the config file)")
    }
}
