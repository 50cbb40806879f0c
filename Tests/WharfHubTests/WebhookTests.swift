import Crypto
import Foundation
import Logging
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

/// Webhooks end to end inside the hub: the outbox queues deliveries with the change, the job
/// sends them over real HTTP to a loopback receiver, and the rules (order, retries, auto-disable,
/// the address guard, permissions) hold.
@Suite("Webhooks")
struct WebhookTests {
    static func settings(allowPrivate: Bool = true, retryFor: Double = 3600, disableAfter: Int = 10) -> HubSettings {
        var settings = HubSettings()
        settings.publicURL = "https://wharf.example.com"
        settings.webhooks.allowPrivate = allowPrivate
        settings.webhooks.retryDelay = 10
        settings.webhooks.retryMaxDelay = 60
        settings.webhooks.retryFor = retryFor
        settings.webhooks.disableAfter = disableAfter
        settings.webhooks.timeout = 5
        return settings
    }

    func deliverer(_ t: TestHub, allowPrivate: Bool = true) -> (WebhookDeliverer, JobWorker) {
        var settings = t.hub.settings.webhooks
        settings.allowPrivate = allowPrivate
        let deliverer = WebhookDeliverer(stores: t.hub.stores, settings: settings,
                                         transport: HTTPWebhookTransport(policy: WebhookAddressPolicy(settings: settings)),
                                         logger: Logger(label: "test"))
        return (deliverer, JobWorker(jobs: t.hub.stores.jobs, handlers: [deliverer], clock: t.clock, logger: Logger(label: "test")))
    }

    /// Runs due delivery jobs until none is due.
    func drain(_ worker: JobWorker) async throws {
        while try await worker.runNext() {}
    }

    /// `alice/app` with tag v1 and a webhook `ci` to a fresh receiver (stopped by the caller).
    func hooked(_ t: TestHub) async throws -> (LoopbackReceiver, Webhook) {
        let receiver = try await LoopbackReceiver.start()
        _ = try await t.push("alice/app", tag: "v1", by: "alice")
        let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url()), by: TestHub.alice)
        return (receiver, webhook)
    }

    static let app = RepositoryName("alice/app")!

    @Test("a push queues a delivery with the change; the job sends Docker Hub's payload, signed with the secret")
    func pushPayload() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.hub.repositories.create(namespace: "alice", name: "app", isPrivate: false, description: "An app",
                                                    fullDescription: nil, by: TestHub.alice)
            let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url(), secret: "s3cret"),
                                                          by: TestHub.alice)
            let digest = try await t.push("alice/app", tag: "v1", by: "alice")
            let pending = try await t.hub.stores.webhooks.deliveries(of: webhook.id, limit: 10)
            #expect(pending.map(\.state) == [.pending])
            try await drain(deliverer(t).1)
            let request = try #require(receiver.received.first)
            #expect(receiver.received.count == 1)
            #expect(request.headers["x-wharf-event"] == "push")
            #expect(request.headers["x-wharf-delivery"] == pending[0].id)
            #expect(request.headers["content-type"] == "application/json")
            let mac = HMAC<SHA256>.authenticationCode(for: Data(request.body.utf8), using: SymmetricKey(data: Data("s3cret".utf8)))
            #expect(request.headers["x-wharf-signature-256"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            let json = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
            let push = try #require(json["push_data"] as? [String: Any])
            let repository = try #require(json["repository"] as? [String: Any])
            #expect(push["tag"] as? String == "v1" && push["pusher"] as? String == "alice")
            #expect(push["pushed_at"] as? Int == Int(t.clock.now.timeIntervalSince1970))
            #expect(push["images"] as? [String] == [digest.description])
            #expect(push["media_type"] as? String == MediaType.ociManifest)
            #expect(repository["repo_name"] as? String == "alice/app" && repository["namespace"] as? String == "alice")
            #expect(repository["name"] as? String == "app" && repository["owner"] as? String == "alice")
            #expect(repository["description"] as? String == "An app" && repository["status"] as? String == "Active")
            #expect(repository["repo_url"] as? String == "https://wharf.example.com/r/alice/app")
            #expect(json["callback_url"] as? String == "https://wharf.example.com/api/webhook-callbacks/\(pending[0].id)")
            let log = try await t.hub.webhooks.deliveries(of: webhook.id, in: .repository(Self.app), limit: 10, by: TestHub.alice)
            #expect(log.map(\.delivery.state) == [.delivered])
            #expect(log[0].attempts.map(\.statusCode) == [200])
            #expect(log[0].attempts[0].responseExcerpt == "received")
        }
    }

    @Test("a refused change queues no delivery (the outbox is the change's transaction)")
    func rollback() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: "http://127.0.0.1:9/"),
                                                          by: TestHub.alice)
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await t.hub.stores.transaction { tx in
                    try await WebhookOutbox(settings: t.hub.settings).publish(
                        HubEvent(kind: .push, repository: Self.app, actor: "alice", tag: "v2", createdAt: t.clock.now), in: tx)
                    throw Refused()
                }
            }
            #expect(try await t.hub.stores.webhooks.deliveries(of: webhook.id, limit: 10).isEmpty)
            #expect(try await t.hub.stores.jobs.jobs().allSatisfy { $0.kind != WebhookDeliverer.kind })
        }
    }

    @Test("a failing delivery is retried with growing waits and holds back the later ones, which then go in push order")
    func orderAndRetries() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "t0", by: "alice")
            _ = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url()), by: TestHub.alice)
            receiver.answer(503)
            for tag in ["t1", "t2", "t3"] { _ = try await t.push("alice/app", tag: tag, layer: tag, by: "alice") }
            let worker = deliverer(t).1
            try await drain(worker)
            #expect(receiver.received.count == 1, "only the head is tried while it fails")
            t.clock.advance(by: 7)
            try await drain(worker)
            #expect(receiver.received.count == 1, "the first retry waits at least 7.5 s (10 s less the jitter)")
            t.clock.advance(by: 6)
            try await drain(worker)
            #expect(receiver.received.count == 2)
            receiver.answer(200)
            t.clock.advance(by: 26)
            try await drain(worker)
            let tags = try receiver.received.map { request -> String in
                let json = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
                return (json?["push_data"] as? [String: Any])?["tag"] as? String ?? "?"
            }
            #expect(tags == ["t1", "t1", "t1", "t2", "t3"])
            let ids = receiver.received.map { $0.headers["x-wharf-delivery"] ?? "" }
            #expect(ids[0] == ids[1] && ids[1] == ids[2], "a retry is the same delivery")
        }
    }

    @Test("several workers share the deliveries: each is sent once, each webhook's in order")
    func concurrentWorkers() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "t0", by: "alice")
            _ = try await t.push("alice/other", tag: "t0", by: "alice")
            for repository in ["alice/app", "alice/other"] {
                _ = try await t.hub.webhooks.create(in: .repository(RepositoryName(repository)!), .init(name: "ci", url: receiver.url("/\(repository)")),
                                                    by: TestHub.alice)
            }
            for index in 1...8 {
                for repository in ["alice/app", "alice/other"] {
                    _ = try await t.push(repository, tag: "t\(index)", layer: "\(repository)-\(index)", by: "alice")
                }
            }
            let workers = (0..<3).map { index in
                let (deliverer, _) = deliverer(t)
                return JobWorker(jobs: t.hub.stores.jobs, handlers: [deliverer], clock: t.clock, logger: Logger(label: "test"),
                                 owner: "worker-\(index)")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in workers { group.addTask { try await drain(worker) } }
                try await group.waitForAll()
            }
            let ids = receiver.received.map { $0.headers["x-wharf-delivery"] ?? "" }
            #expect(ids.count == 16 && Set(ids).count == 16, "every delivery exactly once")
            for repository in ["alice/app", "alice/other"] {
                let tags = try receiver.received.filter { $0.path == "/\(repository)" }.map { request -> String in
                    let json = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
                    return (json?["push_data"] as? [String: Any])?["tag"] as? String ?? "?"
                }
                #expect(tags == (1...8).map { "t\($0)" }, "\(repository) in push order")
            }
        }
    }

    @Test("a delivery failing past the retry window fails for good; enough in a row disable the webhook, and enabling it sends what waited")
    func autoDisable() async throws {
        try await TestHub.run(settings: Self.settings(retryFor: 30, disableAfter: 2)) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "t0", by: "alice")
            let created = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url()), by: TestHub.alice)
            receiver.answer(500)
            let worker = deliverer(t).1
            for tag in ["t1", "t2"] {
                _ = try await t.push("alice/app", tag: tag, layer: tag, by: "alice")
                try await drain(worker)
                t.clock.advance(by: 31)
                try await drain(worker)
            }
            let webhook = try await t.hub.webhooks.show(created.id, in: .repository(Self.app), by: TestHub.alice)
            #expect(!webhook.enabled && webhook.consecutiveFailures == 2)
            #expect(webhook.disabledReason?.contains("2 deliveries in a row failed") == true)
            #expect(webhook.disabledReason?.contains("500") == true)
            let states = try await t.hub.stores.webhooks.deliveries(of: created.id, limit: 10).map(\.state)
            #expect(states == [.failed, .failed])
            let before = receiver.received.count
            _ = try await t.push("alice/app", tag: "t3", layer: "t3", by: "alice")
            try await drain(worker)
            #expect(receiver.received.count == before, "a disabled webhook gets nothing")
            #expect(try await t.hub.stores.webhooks.deliveries(of: created.id, limit: 10).count == 2, "and no event is queued for it")
            receiver.answer(200)
            await #expect(throws: HubError.self) {
                try await t.hub.webhooks.sendTest(created.id, in: .repository(Self.app), by: TestHub.alice)
            }
            let enabled = try await t.hub.webhooks.update(created.id, in: .repository(Self.app), .init(enabled: true), by: TestHub.alice)
            #expect(enabled.enabled && enabled.disabledReason == nil && enabled.consecutiveFailures == 0)
            _ = try await t.hub.webhooks.sendTest(created.id, in: .repository(Self.app), by: TestHub.alice)
            try await drain(worker)
            #expect(receiver.received.last?.headers["x-wharf-event"] == "test")
        }
    }

    @Test("URLs that reach loopback, private or link-local addresses are refused unless the server allows them")
    func addressGuard() async throws {
        var settings = Self.settings(allowPrivate: false)
        settings.webhooks.allowedNetworks = [IPNetwork("127.0.0.2/32")!]
        try await TestHub.run(settings: settings) { t in
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            for url in ["http://127.0.0.1:8080/", "http://localhost:8080/", "http://169.254.169.254/latest/meta-data/",
                        "http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/",
                        "http://0.0.0.0/", "http://[fe80::1]/"] {
                do {
                    _ = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "x", url: url), by: TestHub.alice)
                    Issue.record("\(url) was accepted")
                } catch let error as HubError {
                    #expect(error.kind == .invalid && error.field == "url", "\(url)")
                    #expect(error.message.contains("may not call"), "\(url): \(error.message)")
                }
            }
            for url in ["ftp://example.com/", "http:///nohost", "not a url", "http://user:pw@example.com/"] {
                await #expect(throws: HubError.self, "\(url)") {
                    try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "x", url: url), by: TestHub.alice)
                }
            }
            let allowed = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "x", url: "http://127.0.0.2:9/"),
                                                          by: TestHub.alice)
            #expect(allowed.url == "http://127.0.0.2:9/")
        }
    }

    @Test("a receiver whose address became refused is not called: the delivery fails at once, saying why")
    func refusedAtDelivery() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let (receiver, webhook) = try await hooked(t)
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "v2", layer: "v2", by: "alice")
            try await drain(deliverer(t, allowPrivate: false).1)
            #expect(receiver.received.isEmpty)
            let log = try await t.hub.webhooks.deliveries(of: webhook.id, in: .repository(Self.app), limit: 10, by: TestHub.alice)
            #expect(log.map(\.delivery.state) == [.failed])
            #expect(log[0].attempts.count == 1 && log[0].attempts[0].statusCode == nil)
            #expect(log[0].attempts[0].error?.contains("refused: 127.0.0.1 is a loopback address") == true)
        }
    }

    @Test("redirects are not followed: a 3xx is a failed attempt")
    func redirects() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            let target = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop(); await target.stop() } }
            receiver.answer(302, headers: [("Location", target.url())])
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url()), by: TestHub.alice)
            _ = try await t.push("alice/app", tag: "v2", layer: "v2", by: "alice")
            try await drain(deliverer(t).1)
            #expect(receiver.received.count == 1 && target.received.isEmpty)
            let log = try await t.hub.webhooks.deliveries(of: webhook.id, in: .repository(Self.app), limit: 10, by: TestHub.alice)
            #expect(log[0].delivery.state == .pending && log[0].attempts.first?.statusCode == 302)
            #expect(log[0].attempts.first?.error?.contains("redirects are not followed") == true)
        }
    }

    @Test("only the repository's admins manage its webhooks; outsiders of a private one see nothing; the secret is never shown")
    func permissions() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            _ = try await t.hub.repositories.create(namespace: "alice", name: "app", isPrivate: true, description: nil,
                                                    fullDescription: nil, by: TestHub.alice)
            let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: "http://127.0.0.1:9/", secret: "x"),
                                                          by: TestHub.alice)
            #expect(webhook.secret == "x")
            do {
                _ = try await t.hub.webhooks.list(.repository(Self.app), by: TestHub.bert)
                Issue.record("an outsider listed the webhooks of a private repository")
            } catch let error as HubError {
                #expect(error.kind == .notFound)
            }
            _ = try await t.hub.repositories.setCollaborator("bert", permission: "read", on: Self.app, by: TestHub.alice)
            do {
                _ = try await t.hub.webhooks.show(webhook.id, in: .repository(Self.app), by: TestHub.bert)
                Issue.record("a reader saw a webhook")
            } catch let error as HubError {
                #expect(error.kind == .forbidden)
            }
            _ = try await t.hub.repositories.create(namespace: "bert", name: "other", isPrivate: false, description: nil,
                                                    fullDescription: nil, by: TestHub.bert)
            await #expect(throws: HubError.notFound("webhook")) {
                try await t.hub.webhooks.show(webhook.id, in: .repository(RepositoryName("bert/other")!), by: TestHub.bert)
            }
        }
    }

    @Test("deleting a repository sends repository_delete to its webhooks, which then go away")
    func repositoryDelete() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            let webhook = try await t.hub.webhooks.create(in: .repository(Self.app), .init(name: "ci", url: receiver.url(),
                                                          events: ["push", "tag_delete", "repository_delete"]), by: TestHub.alice)
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: Self.app, by: "alice")
            try await t.hub.repositories.delete(Self.app, by: TestHub.alice)
            #expect(try await t.hub.stores.webhooks.webhooks(in: .repository(Self.app)).isEmpty, "retired at once")
            try await drain(deliverer(t).1)
            #expect(receiver.received.map { $0.headers["x-wharf-event"] ?? "" } == ["tag_delete", "repository_delete"])
            let json = try JSONSerialization.jsonObject(with: Data(receiver.received[0].body.utf8)) as? [String: Any]
            #expect((json?["event_data"] as? [String: Any])?["tag"] as? String == "v1")
            #expect(try await t.hub.stores.webhooks.webhook(webhook.id) == nil, "gone once its deliveries went out")
        }
    }

    @Test("organization webhooks get the events of every repository of the organization; CloudEvents format")
    func organization() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let receiver = try await LoopbackReceiver.start()
            defer { Task { await receiver.stop() } }
            _ = try await t.hub.organizations.create("acme", by: TestHub.alice)
            await #expect(throws: HubError.self) {
                try await t.hub.webhooks.create(in: .organization("acme"), .init(name: "all", url: receiver.url()), by: TestHub.bert)
            }
            _ = try await t.hub.webhooks.create(in: .organization("acme"), .init(name: "all", url: receiver.url(), format: "cloudevents"),
                                                by: TestHub.alice)
            let digest = try await t.push("acme/api", tag: "v7", by: "alice")
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            try await drain(deliverer(t).1)
            #expect(receiver.received.count == 1)
            let request = try #require(receiver.received.first)
            #expect(request.headers["content-type"] == "application/cloudevents+json; charset=utf-8")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
            #expect(json["specversion"] as? String == "1.0" && json["type"] as? String == "dev.wharf.repository.push")
            #expect(json["subject"] as? String == "acme/api:v7" && json["source"] as? String == "https://wharf.example.com/r/acme/api")
            let data = try #require(json["data"] as? [String: Any])
            #expect(data["digest"] as? String == digest.description && data["tag"] as? String == "v7")
        }
    }

    @Test("redeliver sends the same body as a new delivery; the receiver's callback is recorded on the delivery")
    func redeliverAndCallback() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            let (receiver, webhook) = try await hooked(t)
            defer { Task { await receiver.stop() } }
            _ = try await t.push("alice/app", tag: "v2", layer: "v2", by: "alice")
            let worker = deliverer(t).1
            try await drain(worker)
            let first = try #require(try await t.hub.stores.webhooks.deliveries(of: webhook.id, limit: 1).first)
            let again = try await t.hub.webhooks.redeliver(first.id, of: webhook.id, in: .repository(Self.app), by: TestHub.alice)
            #expect(again.delivery.id != first.id && again.delivery.redeliveryOf == first.id && again.delivery.body == first.body)
            try await drain(worker)
            #expect(receiver.received.map(\.body) == [first.body, first.body])
            #expect(receiver.received.map { $0.headers["x-wharf-delivery"] } == [first.id, again.delivery.id])
            _ = try await t.hub.webhooks.recordCallback(first.id, state: "success", description: "tests passed", context: "ci",
                                                        targetURL: "https://ci.example.com/1")
            let record = try await t.hub.webhooks.delivery(first.id, of: webhook.id, in: .repository(Self.app), by: TestHub.alice)
            #expect(record.delivery.validation?.state == "success" && record.delivery.validation?.context == "ci")
            await #expect(throws: HubError.self) {
                try await t.hub.webhooks.recordCallback(first.id, state: "great", description: nil, context: nil, targetURL: nil)
            }
            await #expect(throws: HubError.notFound("delivery")) {
                try await t.hub.webhooks.recordCallback(String(repeating: "0", count: 32), state: "success", description: nil,
                                                        context: nil, targetURL: nil)
            }
        }
    }

    @Test("names, events and formats are checked")
    func rules() async throws {
        try await TestHub.run(settings: Self.settings()) { t in
            _ = try await t.push("alice/app", tag: "v1", by: "alice")
            let cases: [(WebhookService.Draft, String)] = [
                (.init(name: "", url: "http://127.0.0.1:9/"), "name"),
                (.init(name: String(repeating: "n", count: 101), url: "http://127.0.0.1:9/"), "name"),
                (.init(name: "x", url: "http://127.0.0.1:9/", events: []), "events"),
                (.init(name: "x", url: "http://127.0.0.1:9/", events: ["pull"]), "events"),
                (.init(name: "x", url: "http://127.0.0.1:9/", format: "xml"), "format"),
                (.init(name: "x"), "url"),
                (.init(name: "~\u{0}", url: "http://127.0.0.1:9/"), "name"),
                (.init(name: "x", url: "http://127.0.0.1:9/", secret: "a\u{0}b"), "secret"),
            ]
            for (draft, field) in cases {
                do {
                    _ = try await t.hub.webhooks.create(in: .repository(Self.app), draft, by: TestHub.alice)
                    Issue.record("accepted a bad \(field)")
                } catch let error as HubError {
                    #expect(error.field == field)
                }
            }
            let webhook = try await t.hub.webhooks.create(
                in: .repository(Self.app), .init(name: " ci ", url: "http://127.0.0.1:9/", secret: "s", events: ["repository_delete", "push"]),
                by: TestHub.alice)
            #expect(webhook.name == "ci" && webhook.events == ["push", "repository_delete"] && webhook.format == "hub")
            let changed = try await t.hub.webhooks.update(webhook.id, in: .repository(Self.app), .init(secret: ""), by: TestHub.alice)
            #expect(changed.secret == nil && changed.name == "ci")
        }
    }
}
