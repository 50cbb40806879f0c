import Foundation
import Testing
import WharfCore
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
        let clock = ManualClock()
        let service = try await TokenService.load(keyPath: path, service: "wharf", lifetime: 60, clock: clock)
        let expiring = try await service.issue(subject: "a", access: [])
        clock.advance(by: 60 + TokenService.leeway - 1)
        #expect(try await service.verify(expiring).sub.value == "a")
        let unverified = try await service.issue(subject: "b", access: [])
        clock.advance(by: 2)
        await #expect(throws: (any Error).self) { try await service.verify(expiring) }
        clock.advance(by: 60 + TokenService.leeway)
        await #expect(throws: (any Error).self) { try await service.verify(unverified) }
        let foreign = try await TokenService.load(keyPath: other, service: "wharf").issue(subject: "a", access: [])
        await #expect(throws: (any Error).self) { try await service.verify(foreign) }
        let otherAudience = try await TokenService.load(keyPath: path, service: "elsewhere").issue(subject: "a", access: [])
        await #expect(throws: (any Error).self) { try await service.verify(otherAudience) }
        var tampered = Array(try await service.issue(subject: "a", access: []))
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
        await #expect(throws: (any Error).self) { try await service.verify(String(tampered)) }
    }

    @Test("scopes parse type, name (with host:port) and actions")
    func scopes() throws {
        let pair = try #require(ResourceScope("repository:alice/app:pull,push"))
        #expect(pair.type == "repository" && pair.name == "alice/app" && pair.actions == ["pull", "push"])
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
        let clock = ManualClock()
        let throttle = LoginThrottle(maxFailures: 3, window: 60, lockout: 30, clock: clock)
        throttle.recordFailure("a")
        throttle.recordFailure("a")
        #expect(throttle.retryAfter("a") == nil)
        throttle.recordFailure("a")
        #expect(throttle.retryAfter("a") == 30)
        #expect(throttle.retryAfter("b") == nil)
        clock.advance(by: 31)
        #expect(throttle.retryAfter("a") == nil)
    }

    @Test("failures outside the window do not count")
    func window() {
        let clock = ManualClock()
        let throttle = LoginThrottle(maxFailures: 2, window: 10, lockout: 30, clock: clock)
        throttle.recordFailure("a")
        clock.advance(by: 20)
        throttle.recordFailure("a")
        #expect(throttle.retryAfter("a") == nil)
        throttle.recordFailure("a")
        #expect(throttle.retryAfter("a") == 30)
    }
}

@Suite("Password hashing")
struct PasswordHasherTests {
    @Test("passwords longer than bcrypt's 72 bytes count in full")
    func longPasswords() async throws {
        let hasher = PasswordHasher(cost: 4)
        let long = String(repeating: "é", count: 72)  // 144 bytes
        let hash = try await hasher.hash(long)
        #expect(try await hasher.verify(long, hash: hash))
        #expect(try await !hasher.verify(String(repeating: "é", count: 71) + "e", hash: hash))
        let short = "short-password"
        #expect(try await hasher.verify(short, hash: try await hasher.hash(short)))
    }
}
