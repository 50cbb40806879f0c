import Foundation
import Logging
import NIOCore
import WharfAuth
import WharfCore
import WharfMetadata
import WharfStorage
import WharfTestSupport
@testable import WharfHub

/// A hub over a fresh SQLite database and blob folder in a temporary directory, with a clock
/// the test moves. `alice` and `bert` are users (password `password-1`), `root` an administrator.
struct TestHub {
    static let password = "password-1"
    let hub: Hub
    let clock: ManualClock
    let folder: String

    /// Runs `body` once per database the tests have (SQLite, and PostgreSQL when configured).
    static func run(settings: HubSettings = HubSettings(), _ body: (TestHub) async throws -> Void) async throws {
        for database in TestDatabase.available {
            try await database.withFreshDatabase { access in try await run(on: access, settings: settings, body) }
        }
    }

    static func run(on access: any SQLDatabaseAccess, settings: HubSettings, _ body: (TestHub) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-hub-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let clock = ManualClock()
        let stores = try await Stores.open(access, clock: clock)
        let hub = Hub(stores: stores, blobs: try ContentAddressedBlobStore.fileSystem(root: folder), settings: settings,
                      hasher: PasswordHasher(cost: 4))
        for name in ["alice", "bert"] {
            _ = try await hub.accounts.createUser(username: name, email: nil, password: password)
        }
        _ = try await hub.accounts.createUser(username: "root", email: nil, password: password, isAdmin: true, allowReserved: true)
        try await body(TestHub(hub: hub, clock: clock, folder: folder))
    }

    static let alice = Principal(name: "alice", isAdmin: false)
    static let bert = Principal(name: "bert", isAdmin: false)
    static let root = Principal(name: "root", isAdmin: true)

    /// Every event recorded so far.
    func events() async throws -> [HubEvent] {
        try await hub.stores.events.events(after: 0, limit: 10_000)
    }

    /// Pushes a one-layer image to `repository:tag` as `actor`.
    @discardableResult
    func push(_ repository: String, tag: String, layer: String = "layer", by actor: String?) async throws -> Digest {
        let name = RepositoryName(repository)!
        let config = Array(#"{"architecture":"amd64","os":"linux"}"#.utf8)
        let layerBytes = Array(layer.utf8)
        for blob in [config, layerBytes] {
            _ = try await hub.registry.uploadMonolithic(into: name, digest: Digest.of(blob), by: actor, body: Self.body(blob))
        }
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(Digest.of(config))","size":\(config.count)},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(Digest.of(layerBytes))","size":\(layerBytes.count)}]}
            """.utf8)
        let stored = try await hub.registry.putManifest(manifest, contentType: MediaType.ociManifest, reference: .tag(Tag(tag)!),
                                                        in: name, by: actor)
        return stored.stored.digest
    }

    static func body(_ bytes: [UInt8]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(ByteBuffer(bytes: bytes))
            continuation.finish()
        }
    }
}
