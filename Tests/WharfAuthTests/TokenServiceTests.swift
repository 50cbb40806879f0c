import Foundation
import Testing
@testable import WharfAuth

@Suite("Token service")
struct TokenServiceTests {
    func keyPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wharf-key-\(UUID().uuidString).pem").path
    }

    @Test("an issued token verifies and carries its subject and access")
    func roundTrip() async throws {
        let path = keyPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let service = try await TokenService.load(keyPath: path, service: "wharf")
        let token = try await service.issue(subject: "alice", access: [ResourceAccess(type: "repository", name: "alice/app", actions: ["pull", "push"])])
        let claims = try await service.verify(token)
        #expect(claims.sub.value == "alice")
        #expect(claims.actions(on: "repository", "alice/app") == ["pull", "push"])
        #expect(claims.actions(on: "repository", "alice/other").isEmpty)
    }

    @Test("the signing key persists: a restarted service verifies old tokens")
    func keyPersists() async throws {
        let path = keyPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let token = try await TokenService.load(keyPath: path, service: "wharf").issue(subject: "a", access: [])
        _ = try await TokenService.load(keyPath: path, service: "wharf").verify(token)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("expired, foreign and tampered tokens are refused")
    func refusals() async throws {
        let path = keyPath(), other = keyPath()
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: other) }
        let service = try await TokenService.load(keyPath: path, service: "wharf", lifetime: 60)
        let expired = try await service.issue(subject: "a", access: [], now: Date().addingTimeInterval(-3600))
        await #expect(throws: (any Error).self) { try await service.verify(expired) }
        let foreign = try await TokenService.load(keyPath: other, service: "wharf").issue(subject: "a", access: [])
        await #expect(throws: (any Error).self) { try await service.verify(foreign) }
        let otherAudience = try await TokenService.load(keyPath: path, service: "elsewhere").issue(subject: "a", access: [])
        await #expect(throws: (any Error).self) { try await service.verify(otherAudience) }
        var tampered = Array(try await service.issue(subject: "a", access: []))
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
        await #expect(throws: (any Error).self) { try await service.verify(String(tampered)) }
    }

    @Test("scopes parse type, name (with host:port) and actions")
    func scopes() {
        #expect(ResourceScope("repository:alice/app:pull,push") == ResourceScope("repository:alice/app:pull,push"))
        let scope = ResourceScope("repository:localhost:5000/app:pull")!
        #expect(scope.name == "localhost:5000/app")
        #expect(scope.actions == ["pull"])
        #expect(ResourceScope("repository(plugin):a/b:pull")?.type == "repository")
        #expect(ResourceScope("nonsense") == nil)
        #expect(ResourceScope.parseAll(["repository:a/b:pull repository:c/d:push", "registry:catalog:*"]).count == 3)
    }
}

@Suite("Login throttle")
struct LoginThrottleTests {
    @Test("repeated failures lock the key out until the lockout passes")
    func locks() {
        let throttle = LoginThrottle(maxFailures: 3, window: 60, lockout: 30)
        let now = Date()
        throttle.recordFailure(["a"], now: now)
        throttle.recordFailure(["a"], now: now)
        #expect(throttle.retryAfter(["a"], now: now) == nil)
        throttle.recordFailure(["a"], now: now)
        #expect(throttle.retryAfter(["a"], now: now) == 30)
        #expect(throttle.retryAfter(["b"], now: now) == nil)
        #expect(throttle.retryAfter(["a"], now: now.addingTimeInterval(31)) == nil)
    }

    @Test("failures outside the window do not count")
    func window() {
        let throttle = LoginThrottle(maxFailures: 2, window: 10, lockout: 30)
        let now = Date()
        throttle.recordFailure(["a"], now: now)
        throttle.recordFailure(["a"], now: now.addingTimeInterval(20))
        #expect(throttle.retryAfter(["a"], now: now.addingTimeInterval(20)) == nil)
    }
}
