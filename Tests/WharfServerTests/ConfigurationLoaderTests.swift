import Foundation
import Testing
@testable import WharfServer

@Suite("Configuration: flags, then environment, then config file, then defaults")
struct ConfigurationLoaderTests {
    func file(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-config-\(UUID().uuidString)-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("with nothing set, the defaults hold")
    func defaults() async throws {
        let c = try await ConfigurationLoader.load(flags: [:], environment: [:])
        #expect(c.host == "127.0.0.1" && c.port == 5000 && c.dataDirectory == "./wharf-data" && c.signupEnabled)
        #expect(c.initialAdminPassword == nil)
    }

    @Test("a flag beats the environment, which beats the file, which beats the default")
    func precedence() async throws {
        let path = try file("c.json", #"{"port": 7001, "host": "0.0.0.0", "data-dir": "/srv/file", "signup": false, "token-lifetime": 60}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try await ConfigurationLoader.load(flags: ["config": path, "port": "7003"],
                                                   environment: ["WHARF_PORT": "7002", "WHARF_DATA_DIR": "/srv/env"])
        #expect(c.port == 7003)
        #expect(c.dataDirectory == "/srv/env")
        #expect(c.host == "0.0.0.0" && !c.signupEnabled && c.tokenLifetime == 60)
        #expect(c.defaultPrivateRepoLimit == 1)
    }

    @Test("webhook settings and the public URL come from flags, the environment or the file")
    func webhooks() async throws {
        let path = try file("w.json", #"{"webhook-retry-for": 600, "webhook-disable-after": 3}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try await ConfigurationLoader.load(
            flags: ["config": path, "public-url": "https://wharf.example.com/", "webhook-allow-private": "true", "webhook-workers": "2"],
            environment: ["WHARF_WEBHOOK_ALLOWED_NETWORKS": "10.1.0.0/16, fd00::/8", "WHARF_WEBHOOK_RETRY_DELAY": "0.5"])
        #expect(c.publicURL == "https://wharf.example.com" && c.hubSettings.publicURL == "https://wharf.example.com")
        #expect(c.webhooks.allowPrivate && c.webhookWorkers == 2 && c.webhooks.retryDelay == 0.5)
        #expect(c.webhooks.allowedNetworks.map(\.description) == ["10.1.0.0/16", "fd00::/8"])
        #expect(c.webhooks.retryFor == 600 && c.webhooks.disableAfter == 3 && c.webhooks.timeout == 10)
        let defaults = try await ConfigurationLoader.load(flags: ["port": "7000"], environment: [:])
        #expect(defaults.hubSettings.publicURL == "http://127.0.0.1:7000" && !defaults.webhooks.allowPrivate)
    }

    @Test("a YAML file works like a JSON one, and the environment names the file too")
    func yaml() async throws {
        let path = try file("c.yaml", "port: 7100\nprivate-repo-limit: 3\nadmin-password: from-the-file\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try await ConfigurationLoader.load(flags: [:], environment: ["WHARF_CONFIG": path])
        #expect(c.port == 7100 && c.defaultPrivateRepoLimit == 3 && c.initialAdminPassword == "from-the-file")
    }

    @Test("every value is checked the same way, whichever source gives it", arguments: [
        (["signup": "maybe"], [String: String]()),
        ([:], ["WHARF_SIGNUP": "maybe"]),
        ([:], ["WHARF_PORT": "fifty"]),
        (["port": "70000"], [:]),
        ([:], ["WHARF_PRIVATE_REPO_LIMIT": "-1"]),
        ([:], ["WHARF_TOKEN_LIFETIME": "0.5"]),
        ([:], ["WHARF_LOG_LEVEL": "loud"]),
        (["tls-cert": "/x.pem"], [:]),
        (["config": "/no/such/file.json"], [:]),
        (["public-url": "ftp://x"], [:]),
        ([:], ["WHARF_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/40"]),
        (["webhook-timeout": "0"], [:]),
        ([:], ["WHARF_WEBHOOK_DISABLE_AFTER": "0"]),
        (["webhook-workers": "100"], [:]),
        (["webhook-allow-private": "sometimes"], [:]),
    ])
    func refusals(flags: [String: String], environment: [String: String]) async throws {
        await #expect(throws: ConfigurationError.self) {
            try await ConfigurationLoader.load(flags: flags, environment: environment)
        }
    }

    @Test("a bad value in the file is refused too, naming the setting")
    func badFileValue() async throws {
        let path = try file("bad.json", #"{"signup": "perhaps"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try await ConfigurationLoader.load(flags: ["config": path], environment: [:])
            Issue.record("a bad signup value was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("signup"))
        }
    }
}
