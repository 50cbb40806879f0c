import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// `/api/…/build-settings`, `/api/…/builds`, the inbound trigger and the Builds pages. No build
/// runs here (no worker): builds stay queued, which is what these routes show and change.
@Suite("Build routes and pages")
struct BuildRouteTests {
    static var registry: TestRegistry {
        var registry = TestRegistry()
        registry.settings.buildEngine = "buildah"
        return registry
    }

    static let settingsBody = #"{"git_url":"https://git.example.com/alice/app.git","credentials":{"token":"glpat-secret"},"rules":[{"source_type":"branch","source":"main","tag":"latest"},{"source_type":"tag","source":"/^v([0-9.]+)$/","tag":"{\\1}"}]}"#

    @Test("settings, a build by hand, its log and cancellation through /api; the token is never shown; the trigger checks signatures")
    func api() async throws {
        try await Self.registry.runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
            let base = "/api/repositories/alice/app"
            #expect(try await WebhookRouteTests.send(alice, .get, "\(base)/build-settings").status == .notFound)
            let saved = try await WebhookRouteTests.send(alice, .put, "\(base)/build-settings", Self.settingsBody)
            #expect(saved.status == .ok && !String(buffer: saved.body).contains("glpat-secret"))
            let view = try #require(try WebhookRouteTests.json(saved) as? [String: Any])
            #expect(view["has_credentials"] as? Bool == true && view["engine"] as? String == "buildah")
            let triggerURL = try #require(view["trigger_url"] as? String)
            let secret = try #require(view["trigger_secret"] as? String)
            #expect(try await WebhookRouteTests.send(alice, .put, "\(base)/build-settings", #"{"git_url":"/etc","rules":[{"source_type":"branch","source":"main"}]}"#).status
                == .unprocessableContent)
            let queued = try await WebhookRouteTests.send(alice, .post, "\(base)/builds", #"{"ref":"refs/tags/v1.4"}"#)
            #expect(queued.status == .accepted)
            let build = try #require(((try WebhookRouteTests.json(queued) as? [String: Any])?["builds"] as? [[String: Any]])?.first)
            #expect(build["tag"] as? String == "1.4" && build["status"] as? String == "queued" && build["triggered_by"] as? String == "alice")
            let id = try #require(build["id"] as? Int)
            #expect(try await WebhookRouteTests.send(alice, .post, "\(base)/builds", #"{"ref":"nightly"}"#).status == .notFound)
            let log = try await WebhookRouteTests.send(alice, .get, "\(base)/builds/\(id)/log?follow=false")
            #expect(log.status == .ok && log.headers[.contentType]?.hasPrefix("text/plain") == true)
            let cancelled = try await WebhookRouteTests.send(alice, .post, "\(base)/builds/\(id)/cancel")
            let cancelView = try WebhookRouteTests.json(cancelled) as? [String: Any]
            #expect(cancelled.status == .accepted && cancelView?["cancel_requested"] as? Bool == true)
            #expect((try WebhookRouteTests.json(try await WebhookRouteTests.send(alice, .get, "\(base)/builds")) as? [[String: Any]])?.count == 1)
            let bobby = AuthenticatedClient(base: anonymous, username: "bobby", password: "bobby-password")
            #expect(try await WebhookRouteTests.send(bobby, .post, "\(base)/builds", #"{"ref":"main"}"#).status == .forbidden)
            #expect(try await WebhookRouteTests.send(bobby, .get, "\(base)/build-settings").status == .forbidden)
            #expect(try await WebhookRouteTests.send(bobby, .get, "/api/repositories/alice/secret/builds").status == .notFound)
            let trigger = "/api/build-triggers/\(triggerURL.split(separator: "/").last!)"
            let event = #"{"ref":"refs/heads/main","after":"9fceb02d0ae598e95dc970b74767f19372d61af8"}"#
            let forged = try await anonymous.execute(uri: trigger, method: .post, headers: [HTTPField.Name("X-Hub-Signature-256")!: "sha256=00"],
                                                     body: ByteBuffer(string: event)) { $0 }
            #expect(forged.status == .forbidden)
            let mac = HMAC<SHA256>.authenticationCode(for: Data(event.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            let signed = try await anonymous.execute(
                uri: trigger, method: .post,
                headers: [HTTPField.Name("X-Hub-Signature-256")!: "sha256=" + mac.map { String(format: "%02x", $0) }.joined(),
                          HTTPField.Name("X-GitHub-Event")!: "push"],
                body: ByteBuffer(string: event)) { $0 }
            #expect(signed.status == .accepted)
            let triggered = try #require(((try WebhookRouteTests.json(signed) as? [String: Any])?["builds"] as? [[String: Any]])?.first)
            #expect(triggered["tag"] as? String == "latest" && triggered["triggered_by"] as? String == "trigger")
        }
    }

    @Test("a server without a build engine refuses builds with 503 and says why; the rest works")
    func noEngine() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
            #expect(try await WebhookRouteTests.send(alice, .put, "/api/repositories/alice/app/build-settings", Self.settingsBody).status == .ok)
            let refused = try await WebhookRouteTests.send(alice, .post, "/api/repositories/alice/app/builds", #"{"ref":"main"}"#)
            #expect(refused.status == .serviceUnavailable && String(buffer: refused.body).contains("no build engine"))
        }
    }

    @Test("the Builds tab saves settings, starts a build, shows it with its log and cancels it")
    func pages() async throws {
        try await Self.registry.runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let owner = WebBrowser(anonymous)
            _ = try await owner.logIn("alice")
            let overview = try await owner.get("/r/alice/app/builds")
            #expect(overview.status == .ok && overview.html.contains("Connect a git repository below first."))
            let token = try #require(overview.formToken)
            let bad = try await owner.post("/r/alice/app/builds/settings", ["csrf": token, "git_url": "file:///etc", "rule_0_source": "main"])
            #expect(bad.status == .badRequest && bad.html.contains("git server"))
            let saved = try await owner.post("/r/alice/app/builds/settings", [
                "csrf": token, "git_url": "https://git.example.com/alice/app.git", "credentials_kind": "token", "token": "glpat-secret",
                "autobuild": "on", "rule_0_type": "branch", "rule_0_source": "main", "rule_0_tag": "latest", "rule_0_args": "VERSION=1, MODE=fast",
                "rule_1_type": "tag", "rule_1_source": "", "rule_1_tag": "",
            ])
            #expect(saved.status == .seeOther)
            let page = try await owner.get(try #require(saved.headers[.location]))
            #expect(page.html.contains("Build settings saved.") && page.html.contains("/api/build-triggers/") && !page.html.contains("glpat-secret"))
            let settings = try #require(try await dependencies.hub.stores.builds.buildSettings(of: RepositoryName("alice/app")!))
            #expect(settings.rules.count == 1 && settings.rules[0].buildArgs == ["VERSION": "1", "MODE": "fast"])
            let started = try await owner.post("/r/alice/app/builds/trigger", ["csrf": token, "ref": "main"])
            #expect(started.status == .seeOther)
            let buildPage = try await owner.get(try #require(started.headers[.location]))
            #expect(buildPage.status == .ok && buildPage.html.contains(#"data-running="true""#) && buildPage.html.contains("Cancel build"))
            let path = try #require(started.headers[.location])
            #expect(try await owner.get("\(path)/log?follow=false").status == .ok)
            let cancel = try await owner.post("\(path)/cancel", ["csrf": token])
            #expect(cancel.status == .seeOther)
            #expect(try await owner.get(path).html.contains("(stopping)"))
            let stranger = WebBrowser(anonymous)
            _ = try await stranger.logIn("bobby")
            #expect(try await stranger.get("/r/alice/app/builds").status == .forbidden)
            let repositoryPage = try await stranger.get("/r/alice/app")
            #expect(!repositoryPage.html.contains("/r/alice/app/builds"))
        }
    }
}
