import Foundation
import Testing
import WharfAuth
import WharfCore
import WharfMetadata
@testable import WharfHub

@Suite("Events outbox")
struct EventOutboxTests {
    @Test("a push records repository_create and push with actor, tag, digest and time")
    func push() async throws {
        try await TestHub.run { t in
            let digest = try await t.push("alice/app", tag: "v1", by: "alice")
            let events = try await t.events()
            #expect(events.map(\.kind) == [.repositoryCreate, .push])
            let push = try #require(events.last)
            #expect(push.repository.value == "alice/app" && push.actor == "alice" && push.tag == "v1" && push.digest == digest)
            #expect(push.createdAt == t.clock.now)
            #expect(events[0].id! < events[1].id!)
        }
    }

    @Test("tag delete, visibility change and repository delete are recorded")
    func lifecycle() async throws {
        try await TestHub.run { t in
            let digest = try await t.push("alice/app", tag: "v1", by: "alice")
            let name = RepositoryName("alice/app")!
            try await t.hub.registry.deleteManifest(.tag(Tag("v1")!), in: name, by: "alice")
            _ = try await t.hub.repositories.update(name, isPrivate: true, description: nil, by: TestHub.alice)
            _ = try await t.hub.repositories.update(name, isPrivate: true, description: "same visibility", by: TestHub.alice)
            try await t.hub.repositories.delete(name, by: TestHub.alice)
            let events = try await t.events()
            #expect(events.map(\.kind) == [.repositoryCreate, .push, .tagDelete, .repositoryVisibility, .repositoryDelete])
            #expect(events[2].tag == "v1" && events[2].digest == digest)
        }
    }

    @Test("a change that is refused leaves neither data nor event")
    func rollback() async throws {
        try await TestHub.run { t in
            _ = try await t.hub.repositories.create(namespace: "alice", name: "first", isPrivate: true, description: nil, by: TestHub.alice)
            await #expect(throws: HubError.self) {
                _ = try await t.hub.repositories.create(namespace: "alice", name: "second", isPrivate: true, description: nil, by: TestHub.alice)
            }
            #expect(try await t.hub.stores.metadata.repositoryInfo(RepositoryName("alice/second")!) == nil)
            #expect(try await t.events().map(\.repository.value) == ["alice/first"])
        }
    }

    @Test("a rolled-back unit of work writes nothing, events included")
    func unitOfWork() async throws {
        try await TestHub.run { t in
            struct Abort: Error {}
            let name = RepositoryName("alice/app")!
            let now = t.clock.now
            await #expect(throws: Abort.self) {
                try await t.hub.stores.transaction { tx in
                    _ = try await tx.metadata.createRepository(name, isPrivate: false, description: "")
                    try await tx.events.record(HubEvent(kind: .repositoryCreate, repository: name, actor: "alice", createdAt: now))
                    throw Abort()
                }
            }
            let info = try await t.hub.stores.metadata.repositoryInfo(name)
            let events = try await t.events()
            #expect(info == nil)
            #expect(events.isEmpty)
        }
    }
}
