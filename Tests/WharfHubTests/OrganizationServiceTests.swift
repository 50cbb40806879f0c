import Foundation
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

@Suite("Organization and account services")
struct OrganizationServiceTests {
    @Test("an organization keeps at least one owner")
    func lastOwner() async throws {
        try await TestHub.run { t in
            _ = try await t.hub.organizations.create("acmeorg", by: TestHub.alice)
            await #expect(throws: HubError.forbidden("an organization needs at least one owner")) {
                try await t.hub.organizations.removeMember("alice", from: "owners", in: "acmeorg", by: TestHub.alice)
            }
            _ = try await t.hub.organizations.addMember("bert", to: "owners", in: "acmeorg", by: TestHub.alice)
            try await t.hub.organizations.removeMember("alice", from: "owners", in: "acmeorg", by: TestHub.alice)
            #expect(try await t.hub.organizations.show("acmeorg", by: TestHub.bert).teams.first { $0.name == "owners" }?.members == ["bert"])
        }
    }

    @Test("outsiders do not see an organization; members may view but not manage it")
    func visibility() async throws {
        try await TestHub.run { t in
            _ = try await t.hub.organizations.create("acmeorg", by: TestHub.alice)
            await #expect(throws: HubError.notFound("organization")) { try await t.hub.organizations.teams(of: "acmeorg", by: TestHub.bert) }
            _ = try await t.hub.organizations.createTeam("devs", in: "acmeorg", by: TestHub.alice)
            _ = try await t.hub.organizations.addMember("bert", to: "devs", in: "acmeorg", by: TestHub.alice)
            #expect(try await t.hub.organizations.show("acmeorg", by: TestHub.bert).account.name == "acmeorg")
            await #expect { try await t.hub.organizations.createTeam("x", in: "acmeorg", by: TestHub.bert) } throws: {
                ($0 as? HubError)?.kind == .forbidden
            }
        }
    }

    @Test("token scopes: a read-write token cannot manage an organization, account settings or tokens")
    func tokenScopes() async throws {
        try await TestHub.run { t in
            _ = try await t.hub.organizations.create("acmeorg", by: TestHub.alice)
            let writeToken = Principal(name: "alice", isAdmin: false, ceiling: .write)
            let fullToken = Principal(name: "alice", isAdmin: false, ceiling: .admin)
            await #expect { try await t.hub.organizations.createTeam("x", in: "acmeorg", by: writeToken) } throws: {
                ($0 as? HubError)?.kind == .forbidden
            }
            _ = try await t.hub.organizations.createTeam("y", in: "acmeorg", by: fullToken)
            await #expect { try await t.hub.tokens.create(name: "t", scopes: nil, by: fullToken) } throws: {
                ($0 as? HubError)?.kind == .forbidden
            }
            await #expect { try await t.hub.accounts.updateSettings(email: "a@example.com", password: nil, defaultPrivate: nil, by: fullToken) } throws: {
                ($0 as? HubError)?.kind == .forbidden
            }
            #expect(try await t.hub.tokens.create(name: "t", scopes: ["read-write"], by: TestHub.alice).token.scope == .readWrite)
        }
    }

    @Test("sign-up follows the name, email and password rules and refuses taken names")
    func signUp() async throws {
        try await TestHub.run { t in
            await #expect(throws: HubError.invalid("username", "username must be 4 to 30 lowercase letters and digits")) {
                try await t.hub.accounts.signUp(username: "Bad!", email: "x@example.com", password: "long-enough", by: nil)
            }
            await #expect(throws: HubError.invalid("username", "the name admin is reserved")) {
                try await t.hub.accounts.signUp(username: "admin", email: "x@example.com", password: "long-enough", by: nil)
            }
            await #expect { try await t.hub.accounts.signUp(username: "carol", email: "nope", password: "long-enough", by: nil) } throws: {
                ($0 as? HubError)?.field == "email"
            }
            await #expect { try await t.hub.accounts.signUp(username: "alice", email: "a@example.com", password: "long-enough", by: nil) } throws: {
                ($0 as? HubError)?.kind == .conflict
            }
            let carol = try await t.hub.accounts.signUp(username: "carol", email: "c@example.com", password: "long-enough", by: nil)
            #expect(carol.name == "carol")
        }
    }

    @Test("with sign-up turned off only administrators create accounts")
    func signUpOff() async throws {
        var settings = HubSettings()
        settings.signupEnabled = false
        try await TestHub.run(settings: settings) { t in
            await #expect { try await t.hub.accounts.signUp(username: "carol", email: "c@example.com", password: "long-enough", by: nil) } throws: {
                ($0 as? HubError)?.kind == .forbidden
            }
            let carol = try await t.hub.accounts.signUp(username: "carol", email: "c@example.com", password: "long-enough", by: TestHub.root)
            #expect(carol.name == "carol")
        }
    }

    @Test("the generated first administrator password is letters and digits")
    func firstAdministrator() async throws {
        for _ in 0..<50 {
            let password = SecretToken.generatePassword()
            #expect(password.count == 20 && password.allSatisfy { $0.isLetter || $0.isNumber })
        }
    }
}
