import Foundation
import Testing
import WharfCore
import WharfTestSupport
@testable import WharfMetadata

@Suite("Database transfer")
struct DatabaseTransferTests {
    @Test("every table arrives in the other database, events keep counting after the copied ones, and a non-empty target is refused")
    func transfer() async throws {
        for target in TestDatabase.available {
            try await TestDatabase.sqlite.withFreshDatabase { source in
                let stores = try await Stores.open(source)
                let repo = RepositoryName("alice/app")!
                try await stores.accounts.createAccount(Account(name: "alice", kind: .user, email: nil, passwordHash: "hash"))
                try await stores.accounts.createOrganization("acmeorg", owner: "alice")
                // A time that survives seconds-since-1970 as a Double exactly (Date() may lose its last bit).
                let manifest = StoredManifest(digest: Digest.of(Array("m".utf8)), mediaType: MediaType.ociManifest, content: Array("m".utf8),
                                              annotations: ["k": "v"], createdAt: Date(timeIntervalSince1970: 1_800_000_000.5))
                try await stores.metadata.putManifest(manifest, tag: Tag("v1"), in: repo)
                try await stores.events.record(HubEvent(kind: .push, repository: repo, actor: "alice", tag: "v1", createdAt: Date()))
                _ = try await stores.secrets.obtain("token-signing-key") { "secret-pem" }
                let at = Date(timeIntervalSince1970: 1_800_000_000.5)
                let webhook = try await stores.webhooks.createWebhook(Webhook(
                    scope: .repository(repo), name: "ci", url: "https://ci.example.com/", events: ["push"], format: "hub", secret: "s",
                    createdBy: "alice", createdAt: at, updatedAt: at))
                try await stores.webhooks.addDelivery(WebhookDelivery(id: "d1", webhook: webhook.id, eventID: 1, event: "push", body: "{}",
                                                                      nextAttemptAt: at, createdAt: at))
                try await stores.webhooks.addAttempt(WebhookAttempt(number: 1, startedAt: at, durationMilliseconds: 5, statusCode: 503,
                                                                    error: "the receiver answered 503", responseExcerpt: "busy"), to: "d1")
                try await target.withFreshDatabase { destination in
                    let rows = try await DatabaseTransfer.copy(from: source, to: destination)
                    #expect(rows["accounts"] == 2 && rows["tags"] == 1 && rows["team_members"] == 1 && rows["events"] == 1)
                    let copied = try await Stores.open(destination)
                    #expect(try await copied.accounts.account("alice")?.passwordHash == "hash")
                    #expect(try await copied.metadata.manifest(taggedWith: Tag("v1")!, in: repo) == manifest)
                    #expect(try await copied.secrets.obtain("token-signing-key") { "other" } == "secret-pem")
                    try await copied.events.record(HubEvent(kind: .tagDelete, repository: repo, actor: nil, createdAt: Date()))
                    #expect(try await copied.events.events(after: 0, limit: 10).map(\.id) == [1, 2])
                    #expect(try await copied.webhooks.webhook(webhook.id) == webhook, "webhooks arrive with their secret")
                    #expect(try await copied.webhooks.nextPendingDelivery(of: webhook.id)?.id == "d1", "and their pending deliveries")
                    #expect(try await copied.webhooks.attempts(of: ["d1"])["d1"]?.map(\.statusCode) == [503])
                    let next = try await copied.webhooks.createWebhook(Webhook(
                        scope: .organization("acmeorg"), name: "all", url: "https://ci.example.com/", events: ["push"], format: "hub",
                        secret: nil, createdBy: "alice", createdAt: at, updatedAt: at))
                    #expect(next.id == webhook.id + 1, "webhook ids keep counting after the copied ones")
                    await #expect(throws: TransferError.self) { try await DatabaseTransfer.copy(from: source, to: destination) }
                }
            }
        }
    }
}
