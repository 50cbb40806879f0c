import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfCore
import WharfHub
@testable import WharfServer

@Suite("Pull limits, storage lifecycle and audit routes")
struct LifecycleRouteTests {
    @Test("pull limits: headers on manifest GET and HEAD, GETs counted, 429 TOOMANYREQUESTS with Retry-After, per-account limits")
    func pullLimits() async throws {
        var registry = TestRegistry()
        registry.settings.pullLimits = PullLimiter.Settings(anonymous: 2, authenticated: 3, window: 600)
        let clock = registry.clock
        try await registry.runWithDependencies { anonymous, dependencies in
            let admin = AuthenticatedClient(base: anonymous, username: TestRegistry.adminName, password: TestRegistry.adminPassword)
            try await admin.pushImage(to: "root/app", tag: "v1")
            try await admin.execute(uri: "/api/admin/users/root", method: .put, body: ByteBuffer(string: #"{"pull_limit":1}"#)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""pull_limit":1"#))
            }
            let uri = "/v2/root/app/manifests/v1"
            try await anonymous.execute(uri: uri, method: .head) { response in
                #expect(response.headers[HTTPField.Name("ratelimit-limit")!] == "2;w=600")
                #expect(response.headers[HTTPField.Name("ratelimit-remaining")!] == "2;w=600", "a HEAD counts nothing")
                #expect(response.headers[HTTPField.Name("docker-ratelimit-source")!] != nil)
            }
            for remaining in [1, 0] {
                try await anonymous.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[HTTPField.Name("ratelimit-remaining")!] == "\(remaining);w=600")
                }
            }
            try await anonymous.execute(uri: uri, method: .get) { response in
                #expect(response.status == .tooManyRequests)
                #expect(errorCode(response) == "TOOMANYREQUESTS")
                #expect(String(buffer: response.body).contains("pull rate limit"))
                #expect(response.headers[.retryAfter] == "600")
            }
            // The admin's own limit (1) applies to it, not the default for accounts (3).
            try await admin.execute(uri: uri, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("docker-ratelimit-source")!] == "root")
                #expect(response.headers[HTTPField.Name("ratelimit-limit")!] == "1;w=600")
            }
            try await admin.execute(uri: uri, method: .get) { response in #expect(response.status == .tooManyRequests) }
            // A new window starts over.
            clock.advance(by: 601)
            try await anonymous.execute(uri: uri, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("ratelimit-remaining")!] == "1;w=600")
            }
            _ = dependencies
        }
    }

    @Test("without limits, manifest responses carry no rate-limit headers")
    func noLimits() async throws {
        try await TestRegistry().run { client in
            try await client.pushImage(to: "root/app", tag: "v1")
            try await client.execute(uri: "/v2/root/app/manifests/v1", method: .get) { response in
                #expect(response.status == .ok && response.headers[HTTPField.Name("ratelimit-limit")!] == nil)
            }
        }
    }

    @Test("immutable tags through /api and the registry; usage and quota; GC and audit answers")
    func storageRoutes() async throws {
        try await TestRegistry().run { client in
            let first = try await client.pushImage(to: "root/app", tag: "v1", layer: "one")
            try await client.execute(uri: "/api/repositories/root/app/immutable-tags", method: .put,
                                     body: ByteBuffer(string: #"{"patterns":["v*"]}"#)) { response in
                #expect(response.status == .ok && String(buffer: response.body) == #"{"patterns":["v*"]}"#)
            }
            try await client.execute(uri: "/api/repositories/root/app/immutable-tags", method: .put,
                                     body: ByteBuffer(string: #"{"patterns":["v/1"]}"#)) { response in
                #expect(response.status == .unprocessableContent)
            }
            do {
                try await client.pushImage(to: "root/app", tag: "v1", layer: "two")
                Issue.record("an immutable tag was overwritten")
            } catch let failure as TestFailure {
                #expect(failure.description.contains("DENIED") && failure.description.contains("immutable"))
            }
            try await client.execute(uri: "/v2/root/app/manifests/\(first.digest)", method: .delete) { response in
                #expect(response.status == .forbidden && errorCode(response) == "DENIED")
            }
            try await client.execute(uri: "/api/namespaces/root/usage", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains(#""quota":null"#))
            }
            try await client.execute(uri: "/api/admin/namespaces/root/quota", method: .put, body: ByteBuffer(string: #"{"bytes":10}"#)) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains(#""quota":10"#))
            }
            try await client.execute(uri: "/v2/root/app/blobs/uploads/", method: .post) { response in
                #expect(response.status == .forbidden && errorCode(response) == "DENIED")
                #expect(String(buffer: response.body).contains("quota exceeded"))
            }
            try await client.execute(uri: "/api/admin/gc", method: .post, body: ByteBuffer(string: #"{"dry_run":true,"grace_period":0}"#)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""dry_run":true"#))
            }
            try await client.execute(uri: "/api/audit?action=push&page_size=1", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains(#""action":"push""#) && body.contains(#""count":1"#) && body.contains(#""next":null"#))
            }
            try await client.execute(uri: "/api/audit?since=yesterday", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }
}
