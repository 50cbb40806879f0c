import Foundation
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

@Suite("Audit log")
struct AuditTests {
    func all(_ t: TestHub, _ filter: AuditFilter = AuditFilter(), by principal: Principal = TestHub.root) async throws -> [AuditEntry] {
        try await t.hub.audit.entries(filter, page: 1, pageSize: 100, by: principal).entries
    }

    @Test("pushes, deletions and visibility changes are audited with actor, repository, target and client address")
    func registryActions() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            let digest = try await AuditContext.$clientAddress.withValue("192.0.2.7") {
                try await t.push("alice/app", tag: "v1", by: "alice")
            }
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: name, by: "alice")
            _ = try await t.hub.repositories.update(name, isPrivate: true, description: nil, by: TestHub.alice)
            let entries = try await all(t)
            #expect(entries.map(\.action) == ["repository_visibility", "tag_delete", "push", "repository_create"])
            let push = try #require(entries.first { $0.action == "push" })
            #expect(push.actor == "alice" && push.repository == "alice/app" && push.namespace == "alice" && push.target == "v1")
            #expect(push.clientAddress == "192.0.2.7" && push.details["digest"] == digest.description)
            #expect(entries.first?.clientAddress == nil)
        }
    }

    @Test("token creation and revocation, team and collaborator changes, and policy changes are audited")
    func accountActions() async throws {
        try await TestHub.run { t in
            let (token, _) = try await t.hub.tokens.create(name: "ci", scopes: ["read"], by: TestHub.alice)
            try await t.hub.tokens.revoke(token.id, by: TestHub.alice)
            _ = try await t.hub.organizations.create("acmeorg", by: TestHub.alice)
            _ = try await t.hub.organizations.createTeam("devs", in: "acmeorg", by: TestHub.alice)
            _ = try await t.hub.organizations.addMember("bert", to: "devs", in: "acmeorg", by: TestHub.alice)
            try await t.push("alice/app", tag: "v1", by: "alice")
            _ = try await t.hub.repositories.setCollaborator("bert", permission: "write", on: RepositoryName("alice/app")!, by: TestHub.alice)
            _ = try await t.hub.storagePolicies.setImmutableTags(["v*"], of: RepositoryName("alice/app")!, by: TestHub.alice)
            let actions = try await all(t).map(\.action)
            for expected in ["token_create", "token_revoke", "organization_create", "team_create", "team_member_add", "collaborator_set",
                             "immutable_tags_set"] {
                #expect(actions.contains(expected), "\(expected) is audited")
            }
            let revoke = try #require(try await all(t, AuditFilter(action: "token_revoke")).first)
            #expect(revoke.actor == "alice" && revoke.target == token.id)
            let member = try #require(try await all(t, AuditFilter(action: "team_member_add")).first)
            #expect(member.namespace == "acmeorg" && member.details["member"] == "bert")
        }
    }

    @Test("logins that succeed and fail are audited; a failure for an unknown name only for administrators")
    func logins() async throws {
        try await TestHub.run { t in
            let sessions = WebSessionService(stores: t.hub.stores, authenticator: t.hub.authenticator)
            _ = try await sessions.logIn(username: "alice", password: TestHub.password, clientAddress: "198.51.100.1")
            await #expect(throws: Authenticator.Failure.self) {
                _ = try await sessions.logIn(username: "alice", password: "wrong-password", clientAddress: "198.51.100.1")
            }
            await #expect(throws: Authenticator.Failure.self) {
                _ = try await sessions.logIn(username: "nobody", password: "wrong-password", clientAddress: "198.51.100.1")
            }
            await #expect(throws: Authenticator.Failure.self) {
                _ = try await sessions.logIn(username: "no\u{0}body", password: "wrong-password", clientAddress: nil)
            }
            #expect(try await all(t, AuditFilter(action: "login_failed")).first?.target == "nobody", "control characters are left out")
            let mine = try await all(t, by: TestHub.alice)
            #expect(mine.map(\.action) == ["login_failed", "login"])
            #expect(mine.allSatisfy { $0.details["via"] == "website" })
            let failures = try await all(t, AuditFilter(action: "login_failed"))
            #expect(failures.map(\.target) == ["nobody", "nobody", "alice"] && failures[0].actor == nil && failures[0].namespace == nil)
        }
    }

    @Test("owners read their namespaces' entries, administrators everything; filters and pages")
    func readers() async throws {
        try await TestHub.run { t in
            try await t.push("alice/app", tag: "v1", by: "alice")
            t.clock.advance(by: 10)
            let middle = t.clock.now
            try await t.push("bert/app", tag: "v1", by: "bert")
            t.clock.advance(by: 10)
            try await t.push("bert/app", tag: "v2", by: "bert")
            #expect(try await all(t, by: TestHub.alice).allSatisfy { $0.namespace == "alice" })
            #expect(try await all(t, by: TestHub.bert).map(\.action) == ["push", "push", "repository_create"])
            #expect(try await all(t).count == 5)
            #expect(try await all(t, AuditFilter(actor: "bert", action: "push")).map(\.target) == ["v2", "v1"])
            #expect(try await all(t, AuditFilter(repository: "alice/app")).count == 2)
            #expect(try await all(t, AuditFilter(since: middle)).count == 3)
            #expect(try await all(t, AuditFilter(until: middle)).count == 4)
            let page = try await t.hub.audit.entries(AuditFilter(), page: 2, pageSize: 2, by: TestHub.root)
            #expect(page.total == 5 && page.entries.count == 2)
            await #expect(throws: HubError.self) { _ = try await t.hub.audit.entries(AuditFilter(), page: 0, pageSize: 2, by: TestHub.root) }
            await #expect(throws: HubError.self) { _ = try await t.hub.audit.entries(AuditFilter(), page: 1, pageSize: 2, by: nil) }
        }
    }

    @Test("GC and retention deletions are audited as the system; a refused change leaves no entry")
    func systemActions() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/app")!
            try await t.push("alice/app", tag: "v1", layer: "one", by: "alice")
            t.clock.advance(by: 1)
            try await t.push("alice/app", tag: "v2", layer: "two", by: "alice")
            try await t.hub.retention.setPolicy(RetentionPolicy(keepLast: 1), of: name, by: TestHub.alice)
            try await t.hub.stores.jobs.enqueue(kind: RetentionJob.kind, payload: "{}", runAt: t.clock.now, maxAttempts: 1, uniqueKey: nil)
            let job = RetentionJob(retention: t.hub.retention, interval: 60, logger: .init(label: "test"))
            let claimed = try #require(try await t.hub.stores.jobs.claim(kinds: [RetentionJob.kind], owner: "t", now: t.clock.now, lease: 60))
            _ = try await job.run(claimed)
            let retention = try #require(try await all(t, AuditFilter(action: "tag_delete")).first)
            #expect(retention.actor == "system:retention" && retention.target == "v1")
            _ = try await t.hub.garbageCollector.run(GarbageCollector.Policy(gracePeriod: 0, untaggedManifestAge: 0), dryRun: false)
            #expect(try await all(t, AuditFilter(action: "manifest_delete")).first?.actor == "system:gc")
            let run = try #require(try await all(t, AuditFilter(action: "gc")).first)
            #expect(run.actor == "system:gc" && run.details["blobs"] == "1")
            let before = try await all(t).count
            _ = try await t.hub.storagePolicies.setImmutableTags(["v*"], of: name, by: TestHub.alice)
            await #expect(throws: RegistryError.self) { try await t.hub.registry.deleteManifest(.tag(Tag("v2")!), in: name, by: "alice") }
            #expect(try await all(t).count == before + 1, "only the rule change, not the refused delete")
        }
    }
}
