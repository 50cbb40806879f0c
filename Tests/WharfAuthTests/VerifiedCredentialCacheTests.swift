import Foundation
import Synchronization
import Testing
import WharfCore
@testable import WharfAuth

/// Counts calls and returns a fixed answer, optionally after a pause.
private final class Verifier: Sendable {
    let calls = Atomic<Int>(0)
    let answer: Principal?
    let pause: Duration

    init(_ answer: Principal?, pause: Duration = .zero) {
        self.answer = answer
        self.pause = pause
    }

    func callAsFunction() async throws -> Principal? {
        calls.add(1, ordering: .relaxed)
        if pause > .zero { try await Task.sleep(for: pause) }
        return answer
    }
}

/// Waits until `condition` holds, for at most `limit` (background work may wait for a busy thread pool).
private func eventually(within limit: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

@Suite("Verified credential cache")
struct VerifiedCredentialCacheTests {
    let alice = Principal(name: "alice", isAdmin: false)

    @Test("a remembered password is found until it expires, and only with the same secret")
    func remembers() async throws {
        let clock = ManualClock()
        let cache = VerifiedCredentialCache(lifetime: 10, clock: clock)
        cache.remember(alice, username: "alice", secret: "pw")
        let verifier = Verifier(nil)
        clock.advance(by: 4)
        #expect(try await cache.principal(username: "alice", secret: "pw") { try await verifier() } == alice)
        #expect(verifier.calls.load(ordering: .relaxed) == 0)
        #expect(try await cache.principal(username: "alice", secret: "other") { try await verifier() } == nil)
        clock.advance(by: 7)
        #expect(try await cache.principal(username: "alice", secret: "pw") { try await verifier() } == nil)
        #expect(verifier.calls.load(ordering: .relaxed) == 2)
        #expect(cache.cachedPrincipal(username: "alice", secret: "pw") == nil)
    }

    @Test("concurrent requests with the same unverified credentials share one verification")
    func singleFlight() async throws {
        let cache = VerifiedCredentialCache(lifetime: 10, clock: ManualClock())
        let verifier = Verifier(alice, pause: .milliseconds(100))
        let results = try await withThrowingTaskGroup(of: Principal?.self) { group in
            for _ in 0..<50 {
                group.addTask { try await cache.principal(username: "alice", secret: "pw") { try await verifier() } }
            }
            return try await group.reduce(into: [Principal?]()) { $0.append($1) }
        }
        #expect(results.count == 50 && results.allSatisfy { $0 == alice })
        #expect(verifier.calls.load(ordering: .relaxed) == 1)
        #expect(cache.cachedPrincipal(username: "alice", secret: "pw") == alice)
    }

    @Test("forgetting a user drops all of their entries")
    func forgets() {
        let cache = VerifiedCredentialCache(clock: ManualClock())
        cache.remember(alice, username: "alice", secret: "a")
        cache.remember(Principal(name: "bobby", isAdmin: false), username: "bobby", secret: "b")
        cache.forget(username: "alice")
        #expect(cache.cachedPrincipal(username: "alice", secret: "a") == nil)
        #expect(cache.cachedPrincipal(username: "bobby", secret: "b")?.name == "bobby")
    }

    @Test("a full cache stays within its capacity, the least recently used leaving first")
    func capacity() {
        let cache = VerifiedCredentialCache(lifetime: 60, capacity: 3, clock: ManualClock())
        for i in 0..<10 { cache.remember(alice, username: "u\(i)", secret: "s") }
        #expect(cache.cachedPrincipal(username: "u9", secret: "s") != nil)
        #expect(cache.cachedPrincipal(username: "u0", secret: "s") == nil)
    }
}

@Suite("Verified credential cache renewal")
struct VerifiedCredentialCacheRenewalTests {
    let alice = Principal(name: "alice", isAdmin: false)

    @Test("in the second half of its life an entry is served while one background check renews it")
    func renewsAhead() async throws {
        let clock = ManualClock()
        let cache = VerifiedCredentialCache(lifetime: 10, clock: clock)
        cache.remember(alice, username: "alice", secret: "pw")
        clock.advance(by: 6)  // four seconds left
        let verifier = Verifier(alice, pause: .milliseconds(50))
        for _ in 0..<5 {
            #expect(try await cache.principal(username: "alice", secret: "pw") { try await verifier() } == alice)
        }
        #expect(try await eventually { verifier.calls.load(ordering: .relaxed) == 1 && cache.cachedPrincipal(username: "alice", secret: "pw") != nil })
        // Renewed: still valid past the first entry's expiry, after exactly one verification.
        clock.advance(by: 8)
        #expect(try await eventually { cache.cachedPrincipal(username: "alice", secret: "pw") == alice })
        #expect(verifier.calls.load(ordering: .relaxed) == 1)
    }

    @Test("a renewal that no longer verifies (changed password) drops the entry")
    func renewalRejected() async throws {
        let clock = ManualClock()
        let cache = VerifiedCredentialCache(lifetime: 10, clock: clock)
        cache.remember(alice, username: "alice", secret: "pw")
        clock.advance(by: 6)
        let verifier = Verifier(nil)
        #expect(try await cache.principal(username: "alice", secret: "pw") { try await verifier() } == alice)
        #expect(try await eventually { cache.cachedPrincipal(username: "alice", secret: "pw") == nil })
        #expect(verifier.calls.load(ordering: .relaxed) == 1)
    }
}
