import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// `/api/…/webhooks` and the repository's Webhooks pages on the website.
@Suite("Webhook routes and pages")
struct WebhookRouteTests {
    static func json(_ response: TestResponse) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(buffer: response.body))
    }

    static func send(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> TestResponse {
        try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"],
                                 body: body.map { ByteBuffer(string: $0) }) { $0 }
    }

    @Test("create, list, show, change and delete through /api; the secret is never shown; refused URLs are a 422 on url")
    func api() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
            let base = "/api/repositories/alice/app/webhooks"
            let refused = try await Self.send(alice, .post, base, #"{"name":"ci","url":"http://127.0.0.1:8080/"}"#)
            #expect(refused.status == .unprocessableContent)
            let refusal = try #require(try Self.json(refused) as? [String: Any])
            #expect(refusal["field"] as? String == "url" && (refusal["message"] as? String)?.contains("loopback") == true)
            let created = try await Self.send(alice, .post, base,
                                              #"{"name":"ci","url":"https://hooks.example.com/wharf","secret":"s3cret","events":["push","tag_delete"]}"#)
            #expect(created.status == .created)
            let webhook = try #require(try Self.json(created) as? [String: Any])
            let id = try #require(webhook["id"] as? Int)
            #expect(webhook["has_secret"] as? Bool == true && webhook["secret"] == nil)
            #expect(webhook["repository"] as? String == "alice/app" && webhook["organization"] is NSNull)
            #expect(webhook["disabled_reason"] is NSNull && webhook["format"] as? String == "hub")
            #expect(webhook["events"] as? [String] == ["push", "tag_delete"])
            let listed = try await Self.send(alice, .get, base)
            #expect(String(buffer: listed.body).contains("s3cret") == false)
            #expect((try Self.json(listed) as? [[String: Any]])?.count == 1)
            let changed = try await Self.send(alice, .patch, "\(base)/\(id)", #"{"secret":null,"format":"cloudevents"}"#)
            let after = try #require(try Self.json(changed) as? [String: Any])
            #expect(changed.status == .ok && after["has_secret"] as? Bool == false && after["format"] as? String == "cloudevents")
            let bobby = AuthenticatedClient(base: anonymous, username: "bobby", password: "bobby-password")
            #expect(try await Self.send(bobby, .get, "\(base)/\(id)").status == .forbidden)
            #expect(try await Self.send(bobby, .get, "/api/repositories/alice/secret/webhooks").status == .notFound)
            #expect(try await Self.send(anonymous, .get, base).status == .unauthorized)
            let test = try await Self.send(alice, .post, "\(base)/\(id)/test")
            #expect(test.status == .accepted)
            let delivery = try #require(try Self.json(test) as? [String: Any])
            #expect(delivery["event"] as? String == "test" && delivery["state"] as? String == "pending")
            let deliveryID = try #require(delivery["id"] as? String)
            let shown = try #require(try Self.json(try await Self.send(alice, .get, "\(base)/\(id)/deliveries/\(deliveryID)")) as? [String: Any])
            let body = try #require(shown["request_body"] as? String)
            #expect(body.contains(#""specversion":"1.0""#) && body.contains(#""subject":"alice/app:v1""#))
            #expect(try await Self.send(alice, .get, "\(base)/\(id)/deliveries?limit=0").status == .unprocessableContent)
            #expect((try Self.json(try await Self.send(alice, .get, "\(base)/\(id)/deliveries")) as? [[String: Any]])?.count == 1)
            let callback = try await Self.send(anonymous, .post, "/api/webhook-callbacks/\(deliveryID)",
                                               #"{"state":"success","description":"387 tests PASSED","context":"ci","target_url":null}"#)
            #expect(callback.status == .ok)
            #expect(try await Self.send(anonymous, .post, "/api/webhook-callbacks/\(deliveryID)", #"{"state":"meh"}"#).status
                == .unprocessableContent)
            #expect(try await Self.send(anonymous, .post, "/api/webhook-callbacks/nope", #"{"state":"success"}"#).status == .notFound)
            #expect(try await Self.send(alice, .delete, "\(base)/\(id)").status == .noContent)
            #expect(try await Self.send(alice, .get, "\(base)/\(id)").status == .notFound)
        }
    }

    @Test("organization webhooks are for its owners")
    func organization() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
            #expect(try await Self.send(alice, .post, "/api/orgs", #"{"name":"acmeorg"}"#).status == .created)
            let created = try await Self.send(alice, .post, "/api/orgs/acmeorg/webhooks", #"{"name":"all","url":"https://hooks.example.com/"}"#)
            #expect(created.status == .created)
            #expect((try Self.json(created) as? [String: Any])?["organization"] as? String == "acmeorg")
            let bobby = AuthenticatedClient(base: anonymous, username: "bobby", password: "bobby-password")
            #expect(try await Self.send(bobby, .get, "/api/orgs/acmeorg/webhooks").status == .notFound)
        }
    }

    @Test("the Webhooks page adds, shows, tests, changes and deletes a webhook; a bad URL is explained on the form")
    func pages() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            try await WebsiteRouteTests.setUp(anonymous, dependencies)
            let owner = WebBrowser(anonymous)
            _ = try await owner.logIn("alice")
            let list = try await owner.get("/r/alice/app/webhooks")
            #expect(list.status == .ok && list.html.contains("No webhooks yet."))
            #expect(try await owner.get("/r/alice/app").html.contains(#"href="/r/alice/app/webhooks""#), "the tab is there for admins")
            let token = try #require(list.formToken)
            let bad = try await owner.post("/r/alice/app/webhooks", ["csrf": token, "name": "ci", "url": "http://localhost:9/", "event_push": "on"])
            #expect(bad.status == .badRequest && bad.html.contains("resolves to") && bad.html.contains(#"value="ci""#))
            let added = try await owner.post("/r/alice/app/webhooks", ["csrf": token, "name": "ci", "url": "https://hooks.example.com/x",
                                                                       "secret": "s3cret", "event_push": "on", "event_tag_delete": "on",
                                                                       "format": "hub"])
            #expect(added.status == .seeOther)
            let location = try #require(added.headers[.location])
            let page = try await owner.get(location)
            #expect(page.status == .ok && page.html.contains("Webhook added.") && page.html.contains("Deliveries are signed."))
            #expect(!page.html.contains("s3cret"))
            let id = location.split(separator: "/").last.map { String($0.prefix { $0 != "?" }) } ?? ""
            let tested = try await owner.post("/r/alice/app/webhooks/\(id)/test", ["csrf": token])
            #expect(tested.status == .seeOther, "after an action the browser goes to the page, so a reload repeats nothing")
            let afterTest = try await owner.get(try #require(tested.headers[.location]))
            #expect(afterTest.html.contains("Test event queued") && afterTest.html.contains(#"data-state="pending""#))
            let posted = try await owner.post("/r/alice/app/webhooks/\(id)", ["csrf": token, "name": "renamed", "url": "https://hooks.example.com/y",
                                                                               "event_push": "on", "format": "cloudevents"])
            #expect(posted.status == .seeOther)
            let saved = try await owner.get(try #require(posted.headers[.location]))
            #expect(saved.html.contains("Webhook saved.") && saved.html.contains(#"value="renamed""#))
            let refused = try await owner.post("/r/alice/app/webhooks/\(id)", ["csrf": token, "name": "renamed", "url": "gopher://x/"])
            #expect(refused.status == .badRequest && refused.html.contains("http or https"))
            #expect(saved.html.contains("This webhook is disabled."), "an unticked Enabled box disables it")
            let webhook = try #require(try await dependencies.hub.stores.webhooks.webhook(Int64(id)!))
            #expect(webhook.secret == "s3cret" && webhook.events == ["push"] && webhook.format == "cloudevents" && !webhook.enabled)
            let stranger = WebBrowser(anonymous)
            _ = try await stranger.logIn("bobby")
            #expect(try await stranger.get("/r/alice/app/webhooks").status == .forbidden)
            #expect(try await stranger.get("/r/alice/secret/webhooks/\(id)").status == .notFound)
            let deleted = try await owner.post("/r/alice/app/webhooks/\(id)/delete", ["csrf": token])
            #expect(deleted.status == .seeOther)
            #expect(try await owner.get(try #require(deleted.headers[.location])).html.contains("Webhook deleted."))
        }
    }
}
