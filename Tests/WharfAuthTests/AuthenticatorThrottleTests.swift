import Foundation
import Logging
import Testing
import WharfCore
import WharfMetadata
import WharfTestSupport
@testable import WharfAuth

/// Password guessing is slowed without letting anyone lock others out.
@Suite("Authenticator throttling")
struct AuthenticatorThrottleTests {
    static let password = "correct-horse"

    /// alice and bob exist (password `correct-horse`); alice has a personal access token.
    func withAuthenticator(_ body: (Authenticator, ManualClock, String) async throws -> Void) async throws {
        for database in TestDatabase.available {
            try await database.withFreshDatabase { access in try await withAuthenticator(on: access, body) }
        }
    }

    func withAuthenticator(on access: any SQLDatabaseAccess, _ body: (Authenticator, ManualClock, String) async throws -> Void) async throws {
        let clock = ManualClock()
        let stores = try await Stores.open(access, clock: clock)
        let hasher = PasswordHasher(cost: 4)
        for name in ["alice", "bobby"] {
            try await stores.accounts.createAccount(Account(name: name, kind: .user, passwordHash: try await hasher.hash(Self.password)))
        }
        let secret = SecretToken.generate(prefix: SecretToken.personalPrefix)
        try await stores.accounts.createToken(AccessToken(id: "t1", account: "alice", name: "ci", kind: .personal, scope: .readWrite,
                                                          createdAt: clock.now), hash: SecretToken.hash(secret))
        // A verified-password cache with no lifetime, so that every attempt really checks the password.
        let authenticator = Authenticator(accounts: stores.accounts, hasher: hasher, clock: clock,
                                          verified: VerifiedCredentialCache(lifetime: 0))
        try await body(authenticator, clock, secret)
    }

    func fail(_ authenticator: Authenticator, _ user: String, from address: String, times: Int = 5) async {
        for _ in 0..<times {
            _ = try? await authenticator.authenticate(username: user, secret: "wrong-password", clientAddress: address)
        }
    }

    func outcome(_ authenticator: Authenticator, _ user: String, _ secret: String = password, from address: String) async -> String {
        do {
            return try await authenticator.authenticate(username: user, secret: secret, clientAddress: address).name
        } catch Authenticator.Failure.throttled {
            return "throttled"
        } catch Authenticator.Failure.invalidCredentials {
            return "invalid"
        } catch {
            return "error: \(error)"
        }
    }

    @Test("five wrong passwords lock that account from that address, even with the right password")
    func locksPair() async throws {
        try await withAuthenticator { authenticator, _, _ in
            await fail(authenticator, "alice", from: "10.0.0.1")
            #expect(await outcome(authenticator, "alice", from: "10.0.0.1") == "throttled")
        }
    }

    @Test("the right password from another address still logs in")
    func otherAddress() async throws {
        try await withAuthenticator { authenticator, _, _ in
            await fail(authenticator, "alice", from: "10.0.0.1")
            #expect(await outcome(authenticator, "alice", from: "10.0.0.2") == "alice")
        }
    }

    @Test("other accounts behind the same address (a NAT) are not locked out")
    func otherAccountSameAddress() async throws {
        try await withAuthenticator { authenticator, _, _ in
            await fail(authenticator, "alice", from: "10.0.0.1")
            #expect(await outcome(authenticator, "bobby", from: "10.0.0.1") == "bobby")
        }
    }

    @Test("guessing unknown names is throttled per address, without locking real accounts there")
    func unknownNames() async throws {
        try await withAuthenticator { authenticator, _, _ in
            for index in 0..<5 { await fail(authenticator, "ghost\(index)", from: "10.0.0.1", times: 1) }
            #expect(await outcome(authenticator, "ghost9", from: "10.0.0.1") == "throttled")
            #expect(await outcome(authenticator, "ghost9", from: "10.0.0.2") == "invalid")
            #expect(await outcome(authenticator, "alice", from: "10.0.0.1") == "alice")
        }
    }

    @Test("a personal access token works while its account is locked for passwords")
    func tokensKeepWorking() async throws {
        try await withAuthenticator { authenticator, _, token in
            await fail(authenticator, "alice", from: "10.0.0.1")
            #expect(await outcome(authenticator, "alice", token, from: "10.0.0.1") == "alice")
            #expect(await outcome(authenticator, "alice", SecretToken.personalPrefix + "guess", from: "10.0.0.1") == "invalid")
        }
    }

    @Test("the lockout ends with time")
    func lockoutEnds() async throws {
        try await withAuthenticator { authenticator, clock, _ in
            await fail(authenticator, "alice", from: "10.0.0.1")
            #expect(await outcome(authenticator, "alice", from: "10.0.0.1") == "throttled")
            clock.advance(by: authenticator.throttle.lockout + 1)
            #expect(await outcome(authenticator, "alice", from: "10.0.0.1") == "alice")
        }
    }
}
