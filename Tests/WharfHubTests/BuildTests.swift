import Crypto
import Foundation
import Logging
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

/// Automated builds inside the hub: rules, settings, who may do what, the inbound trigger's
/// signatures, the queue, and what the runner does with builds it finds queued, cancelled or cut off.
@Suite("Automated builds")
struct BuildTests {
    static let app = RepositoryName("alice/app")!

    static func settings(engine: String? = "buildah") -> HubSettings {
        var settings = HubSettings()
        settings.publicURL = "https://wharf.example.com"
        settings.buildEngine = engine
        return settings
    }

    static let rules = [
        BuildRule(sourceType: "branch", source: "main", tag: "latest"),
        BuildRule(sourceType: "tag", source: "/^v([0-9.]+)$/", tag: "{\\1}"),
    ]

    @discardableResult
    func configure(_ t: TestHub, autobuild: Bool = true) async throws -> BuildService.SettingsView {
        _ = try await t.push("alice/app", tag: "v0", by: "alice")
        return try await t.hub.builds.saveSettings(of: Self.app, gitURL: "https://git.example.com/alice/app.git",
                                                   credentials: .set(.token(username: "x-access-token", token: "ghp_secret")),
                                                   autobuild: autobuild, rules: Self.rules, by: TestHub.alice)
    }

    @Test("rules match branches, tags and regular expressions, and make valid image tags")
    func matcher() {
        let branch = BuildRule(sourceType: "branch", source: "main", tag: "latest")
        #expect(BuildRuleMatcher.imageTag(for: branch, sourceType: "branch", name: "main") == "latest")
        #expect(BuildRuleMatcher.imageTag(for: branch, sourceType: "tag", name: "main") == nil)
        #expect(BuildRuleMatcher.imageTag(for: branch, sourceType: "branch", name: "dev") == nil)
        let versions = BuildRule(sourceType: "tag", source: "/^v([0-9.]+)$/", tag: "{\\1}")
        #expect(BuildRuleMatcher.imageTag(for: versions, sourceType: "tag", name: "v1.2.3") == "1.2.3")
        #expect(BuildRuleMatcher.imageTag(for: versions, sourceType: "tag", name: "v1.2.3-rc") == nil, "the whole name must match")
        let any = BuildRule(sourceType: "branch", source: "/.*/", tag: "{sourceref}")
        #expect(BuildRuleMatcher.imageTag(for: any, sourceType: "branch", name: "feature/login") == "feature-login")
        #expect(BuildRuleMatcher.sanitized("..") == nil)
    }

    @Test("settings: checked, kept per repository, credentials sealed and never shown; only admins see or change them")
    func settingsRules() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let view = try await configure(t)
            #expect(view.hasCredentials && view.triggerURL.hasPrefix("https://wharf.example.com/api/build-triggers/"))
            #expect(view.triggerSecret.count == 32)
            let stored = try #require(try await t.hub.stores.builds.buildSettings(of: Self.app))
            #expect(stored.sealedCredentials?.contains("ghp_secret") == false, "credentials are sealed at rest")
            let again = try await t.hub.builds.saveSettings(of: Self.app, gitURL: "git@git.example.com:alice/app.git", credentials: .keep,
                                                            autobuild: false, rules: Self.rules, by: TestHub.alice)
            #expect(again.hasCredentials && again.triggerSecret == view.triggerSecret && again.triggerURL == view.triggerURL)
            for url in ["/etc", "file:///etc/passwd", "--upload-pack=touch /tmp/x", "https://", "relative/path"] {
                await #expect(throws: HubError.self, "\(url)") {
                    try await t.hub.builds.saveSettings(of: Self.app, gitURL: url, credentials: .keep, autobuild: true, rules: Self.rules,
                                                        by: TestHub.alice)
                }
            }
            let bad: [BuildRule] = [
                BuildRule(sourceType: "commit", source: "main", tag: "latest"),
                BuildRule(sourceType: "branch", source: "/([/", tag: "latest"),
                BuildRule(sourceType: "branch", source: "main", dockerfile: "../../etc/passwd", tag: "latest"),
                BuildRule(sourceType: "branch", source: "main", context: "/", tag: "latest"),
                BuildRule(sourceType: "branch", source: "main", tag: ""),
            ]
            for rule in bad {
                await #expect(throws: HubError.self, "\(rule)") {
                    try await t.hub.builds.saveSettings(of: Self.app, gitURL: "https://git.example.com/a.git", credentials: .keep,
                                                        autobuild: true, rules: [rule], by: TestHub.alice)
                }
            }
            await #expect(throws: HubError.self) { try await t.hub.builds.settings(of: Self.app, by: TestHub.bert) }
            _ = try await t.hub.repositories.setCollaborator("bert", permission: "write", on: Self.app, by: TestHub.alice)
            await #expect(throws: HubError.self, "a writer may build but not change the settings") {
                try await t.hub.builds.settings(of: Self.app, by: TestHub.bert)
            }
            #expect(try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.bert).count == 1)
        }
    }

    @Test("a trigger queues one build per matching rule, each a job; a ref no rule matches is not found; without an engine builds are off")
    func trigger() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            try await configure(t)
            let queued = try await t.hub.builds.trigger(Self.app, ref: "refs/tags/v2.0", by: TestHub.alice)
            #expect(queued.map(\.imageTag) == ["2.0"] && queued[0].status == .queued && queued[0].sourceType == "tag")
            #expect(try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice).map(\.imageTag) == ["latest"])
            do {
                _ = try await t.hub.builds.trigger(Self.app, ref: "nightly", by: TestHub.alice)
                Issue.record("a ref no rule matches was queued")
            } catch let error as HubError {
                #expect(error.kind == .notFound && error.field == "ref")
            }
            await #expect(throws: HubError.self, "a ref with a NUL (PostgreSQL cannot store it) is refused") {
                try await t.hub.builds.trigger(Self.app, ref: "main\u{0}", by: TestHub.alice)
            }
            let jobs = try await t.hub.stores.jobs.jobs().filter { $0.kind == BuildRunner.kind }
            #expect(Set(jobs.map(\.payload)) == Set(try await t.hub.stores.builds.builds(of: Self.app, limit: 10).map { String($0.id) }))
            await #expect(throws: HubError.self, "a reader may not build") {
                try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.bert)
            }
        }
        try await TestHub.run(settings: Self.settings(engine: nil)) { t in
            try await configure(t)
            do {
                _ = try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice)
                Issue.record("a build was queued without an engine")
            } catch let error as HubError {
                #expect(error.kind == .unavailable && error.message.contains("no build engine"))
            }
        }
    }

    @Test("the inbound trigger takes GitHub, Gitea and GitLab signatures and refuses forged ones")
    func inbound() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let view = try await configure(t)
            let id = String(view.triggerURL.split(separator: "/").last!)
            let body = Array(#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#.utf8)
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(view.triggerSecret.utf8)))
            let hex = mac.map { String(format: "%02x", $0) }.joined()
            await #expect(throws: HubError.forbidden("the push event's signature does not match the trigger's secret")) {
                try await t.hub.builds.receivePush(triggerID: id, headers: ["x-hub-signature-256": "sha256=" + String(repeating: "0", count: 64)],
                                                   body: body)
            }
            await #expect(throws: HubError.self) { try await t.hub.builds.receivePush(triggerID: id, headers: [:], body: body) }
            await #expect(throws: HubError.notFound("build trigger")) {
                try await t.hub.builds.receivePush(triggerID: String(repeating: "a", count: 32), headers: ["x-gitlab-token": view.triggerSecret], body: body)
            }
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-hub-signature-256": "sha256=" + hex], body: body).count == 1)
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-gitea-signature": hex], body: body).count == 1)
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-gitlab-token": view.triggerSecret], body: body).count == 1)
            let deletion = Array(#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#.utf8)
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-gitlab-token": view.triggerSecret], body: deletion).isEmpty)
            let other = Array(#"{"ref":"refs/heads/dev"}"#.utf8)
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-gitlab-token": view.triggerSecret], body: other).isEmpty)
            let triggered = try await t.hub.stores.builds.builds(of: Self.app, limit: 10)
            #expect(triggered.count == 3 && triggered.allSatisfy { $0.triggeredBy == Build.triggerActor })
        }
        try await TestHub.run(settings: Self.settings()) { t in
            let view = try await configure(t, autobuild: false)
            let id = String(view.triggerURL.split(separator: "/").last!)
            let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
            #expect(try await t.hub.builds.receivePush(triggerID: id, headers: ["x-gitlab-token": view.triggerSecret], body: body).isEmpty,
                    "autobuild off: events are accepted and build nothing")
        }
    }

    @Test("the runner ends a build cut off by a stopped server as failed, a cancelled queued one as cancelled, and finished ones stay")
    func runnerStates() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            try await configure(t)
            let runner = BuildRunner(stores: t.hub.stores, engine: nil, limits: BuildLimits(), registryAddress: "127.0.0.1:5000",
                                     pushToken: { _, _ in "" }, logger: Logger(label: "test"))
            let first = try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice)[0]
            var running = first
            running.status = .running
            try await t.hub.stores.builds.updateBuild(running)
            let worker = JobWorker(jobs: t.hub.stores.jobs, handlers: [runner], clock: t.clock, logger: Logger(label: "test"))
            #expect(try await worker.runNext())
            let interrupted = try #require(try await t.hub.stores.builds.build(first.id))
            #expect(interrupted.status == .failed && interrupted.error?.contains("interrupted") == true && interrupted.finishedAt != nil)
            let second = try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice)[0]
            let cancelling = try await t.hub.builds.cancel(second.id, in: Self.app, by: TestHub.alice)
            #expect(cancelling.cancelRequested)
            #expect(try await worker.runNext())
            #expect(try await t.hub.stores.builds.build(second.id)?.status == .cancelled)
            await #expect(throws: HubError.self, "a finished build cannot be cancelled") {
                try await t.hub.builds.cancel(second.id, in: Self.app, by: TestHub.alice)
            }
            let third = try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice)[0]
            #expect(try await worker.runNext())
            let refused = try #require(try await t.hub.stores.builds.build(third.id))
            #expect(refused.status == .failed && refused.error == BuildService.noEngine)
        }
    }

    @Test("the build log keeps what is appended, in order, from any offset")
    func logStore() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            try await configure(t)
            let build = try await t.hub.builds.trigger(Self.app, ref: "main", by: TestHub.alice)[0]
            let log = BuildLog(stores: t.hub.stores, build: build.id)
            await log.line("==> Cloning")
            await log.line("STEP 1/2: FROM scratch — ünïcödé")
            await log.flush()
            await log.line("==> Pushed")
            await log.flush()
            let all = try await t.hub.builds.log(of: build.id, in: Self.app, from: 0, by: TestHub.alice)
            #expect(all.text == "==> Cloning\nSTEP 1/2: FROM scratch — ünïcödé\n==> Pushed\n" && !all.finished)
            let tail = try await t.hub.builds.log(of: build.id, in: Self.app, from: all.next - "==> Pushed\n".utf8.count, by: TestHub.alice)
            #expect(tail.text == "==> Pushed\n" && tail.next == all.next)
        }
    }

    @Test("polling builds what changed since the last poll: nothing on the first, a new commit on main, a new version tag")
    func polling() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let folder = "\(t.folder)/git"
            func git(_ arguments: String...) async throws {
                try await CommandRunner.run(["git", "-C", folder, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments,
                                            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": folder],
                                            output: { _ in })
            }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try await git("init", "--quiet", "--initial-branch", "main")
            try await git("commit", "--quiet", "--allow-empty", "-m", "one")
            try await configure(t)
            // Stored directly: the service refuses local paths, the poller reads any URL git can.
            var stored = try #require(try await t.hub.stores.builds.buildSettings(of: Self.app))
            stored.gitURL = folder
            stored.poll = true
            try await t.hub.stores.builds.saveBuildSettings(stored)
            let poller = BuildPoller(builds: t.hub.builds, interval: 60, logger: Logger(label: "test"))
            func poll() async throws -> [Build] {
                try await poller.poll(try #require(try await t.hub.stores.builds.polledBuildSettings().first))
            }
            #expect(try await poll().isEmpty, "the first poll only remembers")
            #expect(try await poll().isEmpty, "nothing changed")
            try await git("commit", "--quiet", "--allow-empty", "-m", "two")
            let main = try await poll()
            #expect(main.map(\.imageTag) == ["latest"] && main.allSatisfy { $0.triggeredBy == Build.pollActor })
            try await git("tag", "-a", "v1.5", "-m", "release")
            #expect(try await poll().map(\.imageTag) == ["1.5"])
            #expect(try await poll().isEmpty)
        }
    }

    @Test("git URLs must name a server and build paths must stay inside the checkout")
    func gitRules() throws {
        for remote in ["https://github.com/a/b.git", "ssh://git@host/a.git", "git://127.0.0.1:9418/a.git", "git@github.com:a/b.git"] {
            #expect(GitCheckout.isRemote(remote), "\(remote)")
        }
        for local in ["/srv/repo", "file:///srv/repo", "repo", "-u@x:y", "https://"] { #expect(!GitCheckout.isRemote(local), "\(local)") }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-inside-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(root)/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/out", withDestinationPath: "/etc")
        #expect(GitCheckout.inside(root, "sub/Dockerfile") != nil && GitCheckout.inside(root, ".") != nil)
        #expect(GitCheckout.inside(root, "../x") == nil && GitCheckout.inside(root, "/etc/passwd") == nil)
        #expect(GitCheckout.inside(root, "out/passwd") == nil, "a link out of the checkout is refused")
    }
}
