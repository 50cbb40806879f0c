import Foundation
import Testing
@testable import WharfAuth

@Suite("Verified credential cache")
struct VerifiedCredentialCacheTests {
    let alice = Principal(name: "alice", isAdmin: false)

    @Test("a remembered password is found until it expires, and only with the same secret")
    func remembers() {
        let cache = VerifiedCredentialCache(lifetime: 10)
        let now = Date()
        cache.remember(alice, username: "alice", secret: "pw", now: now)
        #expect(cache.principal(username: "alice", secret: "pw", now: now.addingTimeInterval(5)) == alice)
        #expect(cache.principal(username: "alice", secret: "other", now: now) == nil)
        #expect(cache.principal(username: "alice", secret: "pw", now: now.addingTimeInterval(11)) == nil)
    }

    @Test("forgetting a user drops all of their entries")
    func forgets() {
        let cache = VerifiedCredentialCache()
        cache.remember(alice, username: "alice", secret: "a", now: Date())
        cache.remember(Principal(name: "bob", isAdmin: false), username: "bob", secret: "b", now: Date())
        cache.forget(username: "alice")
        #expect(cache.principal(username: "alice", secret: "a") == nil)
        #expect(cache.principal(username: "bob", secret: "b")?.name == "bob")
    }

    @Test("a full cache stays within its capacity")
    func capacity() {
        let cache = VerifiedCredentialCache(lifetime: 60, capacity: 3)
        for i in 0..<10 { cache.remember(alice, username: "u\(i)", secret: "s") }
        #expect(cache.principal(username: "u9", secret: "s") != nil)
        #expect(cache.principal(username: "u0", secret: "s") == nil)
    }
}

@Suite("Verified credential cache renewal")
struct VerifiedCredentialCacheRenewalTests {
    @Test("in the second half of an entry's life exactly one caller is sent to verify again")
    func renewsAhead() {
        let cache = VerifiedCredentialCache(lifetime: 10)
        let start = Date()
        let alice = Principal(name: "alice", isAdmin: false)
        cache.remember(alice, username: "alice", secret: "pw", now: start)
        let later = start.addingTimeInterval(6)
        #expect(cache.principal(username: "alice", secret: "pw", now: later) == nil)
        #expect(cache.principal(username: "alice", secret: "pw", now: later) == alice)
        cache.remember(alice, username: "alice", secret: "pw", now: later)
        #expect(cache.principal(username: "alice", secret: "pw", now: later.addingTimeInterval(1)) == alice)
    }
}
