import Foundation
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

/// How many of `count` concurrent attempts succeed; an attempt refused by the plan limit fails.
func successes(of count: Int, _ attempt: @escaping @Sendable (Int) async throws -> Void) async throws -> Int {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        for index in 0..<count {
            group.addTask {
                do {
                    try await attempt(index)
                    return true
                } catch let error as HubError where error.kind == .limitReached {
                    return false
                }
            }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
    }
}

@Suite("Repository service")
struct RepositoryServiceTests {
    @Test("simultaneous creations of private repositories never exceed the plan")
    func planLimitRace() async throws {
        try await TestHub.run { t in
            let created = try await successes(of: 8) { index in
                _ = try await t.hub.repositories.create(namespace: "alice", name: "app\(index)", isPrivate: true, description: nil, by: TestHub.alice)
            }
            #expect(created == 1)
            #expect(try await t.hub.stores.metadata.privateRepositoryCount(in: "alice") == 1)
        }
    }

    @Test("simultaneous first pushes of new private repositories never exceed the plan")
    func planLimitRaceOnPush() async throws {
        try await TestHub.run { t in
            _ = try await t.hub.accounts.updateSettings(email: nil, password: nil, defaultPrivate: true, by: TestHub.alice)
            let pushed = try await successes(of: 6) { index in try await t.push("alice/app\(index)", tag: "v1", by: "alice") }
            #expect(pushed == 1)
            #expect(try await t.hub.stores.metadata.privateRepositoryCount(in: "alice") == 1)
        }
    }

    @Test("making a repository private checks the plan; an administrator can raise it")
    func visibilityWithinPlan() async throws {
        try await TestHub.run { t in
            for name in ["one", "two"] {
                _ = try await t.hub.repositories.create(namespace: "alice", name: name, isPrivate: false, description: nil, by: TestHub.alice)
            }
            let one = RepositoryName("alice/one")!, two = RepositoryName("alice/two")!
            #expect(try await t.hub.repositories.update(one, isPrivate: true, description: nil, by: TestHub.alice).info.isPrivate)
            await #expect(throws: HubError.self) { try await t.hub.repositories.update(two, isPrivate: true, description: nil, by: TestHub.alice) }
            _ = try await t.hub.accounts.administer("alice", .init(privateRepoLimit: .some(2)), by: TestHub.root)
            #expect(try await t.hub.repositories.update(two, isPrivate: true, description: nil, by: TestHub.alice).info.isPrivate)
        }
    }

    @Test("outsiders see a private repository as missing; collaborators without admin are forbidden to manage it")
    func notFoundVersusForbidden() async throws {
        try await TestHub.run { t in
            let name = RepositoryName("alice/secret")!
            _ = try await t.hub.repositories.create(namespace: "alice", name: "secret", isPrivate: true, description: nil, by: TestHub.alice)
            await #expect(throws: HubError.notFound("repository")) { try await t.hub.repositories.show(name, by: TestHub.bert) }
            await #expect(throws: HubError.notFound("repository")) { try await t.hub.repositories.show(name, by: nil) }
            _ = try await t.hub.repositories.setCollaborator("bert", permission: "write", on: name, by: TestHub.alice)
            #expect(try await t.hub.repositories.show(name, by: TestHub.bert).permission == .write)
            await #expect {
                try await t.hub.repositories.delete(name, by: TestHub.bert)
            } throws: { ($0 as? HubError)?.kind == .forbidden }
        }
    }

    @Test("the catalog lists exactly the repositories each caller may pull, page by page")
    func catalog() async throws {
        try await TestHub.run { t in
            for index in 0..<150 {
                _ = try await t.hub.repositories.create(namespace: "alice", name: String(format: "r%03d", index), isPrivate: false,
                                                        description: nil, by: TestHub.alice)
            }
            _ = try await t.hub.repositories.update(RepositoryName("alice/r005")!, isPrivate: true, description: nil, by: TestHub.alice)
            let anonymous = try await t.hub.repositories.catalog(for: nil, after: nil, limit: 1000)
            #expect(anonymous.count == 149 && !anonymous.contains(RepositoryName("alice/r005")!))
            #expect(try await t.hub.repositories.catalog(for: TestHub.alice, after: nil, limit: 1000).count == 150)
            let page = try await t.hub.repositories.catalog(for: nil, after: "alice/r003", limit: 3).map(\.value)
            #expect(page == ["alice/r004", "alice/r006", "alice/r007"])
        }
    }
}
