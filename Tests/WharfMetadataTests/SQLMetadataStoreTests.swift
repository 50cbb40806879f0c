import Foundation
import Logging
import Testing
import WharfCore
import WharfTestSupport
@testable import WharfMetadata

/// Runs `body` against a fresh SQLite database in a temporary folder, closed afterwards.
func withDatabase(_ body: (SQLiteDatabaseAccess) async throws -> Void) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-meta-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let access = try await SQLiteDatabaseAccess.open(path: "\(folder)/wharf.db", logger: Logger(label: "test"))
    do {
        try await body(access)
    } catch {
        try await access.shutdown()
        throw error
    }
    try await access.shutdown()
}

/// Runs `body` with every store over a fresh database, once per database the tests have
/// (SQLite, and PostgreSQL when `WHARF_TEST_POSTGRES_URL` is set).
func withStores(clock: any WallClock = SystemClock(), _ body: (Stores) async throws -> Void) async throws {
    for database in TestDatabase.available {
        try await database.withFreshDatabase { access in try await body(try await Stores.open(access, clock: clock)) }
    }
}

/// Runs the metadata store against a fresh database of each kind.
func withStore(_ body: (any MetadataStore) async throws -> Void) async throws {
    try await withStores { try await body($0.metadata) }
}

@Suite("SQL metadata store")
struct SQLMetadataStoreTests {
    let repo = RepositoryName("acme/app")!
    let other = RepositoryName("acme/other")!
    let blob = Digest.of(Array("layer".utf8))

    func manifest(_ text: String, subject: Digest? = nil, artifactType: String? = nil) -> StoredManifest {
        StoredManifest(digest: Digest.of(Array(text.utf8)), mediaType: MediaType.ociManifest, content: Array(text.utf8),
                       artifactType: artifactType, subject: subject, annotations: ["k": "v"], blobReferences: [blob])
    }

    @Test("a linked blob is visible only in its repository")
    func blobLinks() async throws {
        try await withStore { store in
            try await store.linkBlob(blob, size: 5, into: repo)
            #expect(try await store.linkedBlobSize(blob, in: repo) == 5)
            #expect(try await store.linkedBlobSize(blob, in: other) == nil)
            #expect(try await store.repositoryExists(repo))
            #expect(try await !store.repositoryExists(other))
            #expect(try await store.linkedBlobs([blob, Digest.of([1])], in: repo) == [blob])
            #expect(try await store.unlinkBlob(blob, from: repo))
            #expect(try await !store.unlinkBlob(blob, from: repo))
            #expect(try await store.storedBytes() == 5)
        }
    }

    @Test("a manifest whose blob is no longer linked (garbage collected since the push checked) is refused in the transaction")
    func unlinkedReference() async throws {
        try await withStore { store in
            await #expect(throws: StoreError.referenceGone("blob")) {
                try await store.putManifest(manifest("orphan"), tag: Tag("latest"), in: repo)
            }
            let stored = try await store.manifest(taggedWith: Tag("latest")!, in: repo)
            #expect(stored == nil)
        }
    }

    @Test("a tag moves atomically and the old manifest stays reachable by digest")
    func tagsMove() async throws {
        try await withStore { store in
            let first = manifest("one"), second = manifest("two")
            try await store.linkBlob(blob, size: 5, into: repo)
            try await store.putManifest(first, tag: Tag("latest"), in: repo)
            try await store.putManifest(second, tag: Tag("latest"), in: repo)
            #expect(try await store.taggedDigest(Tag("latest")!, in: repo) == second.digest)
            let stored = try await store.manifest(first.digest, in: repo)
            #expect(stored?.content == first.content)
            #expect(stored?.annotations == ["k": "v"])
            #expect(try await store.existingManifests([first.digest, second.digest, blob], in: repo) == [first.digest, second.digest])
        }
    }

    @Test("deleting a manifest deletes its tags; deleting a tag keeps the manifest")
    func deletes() async throws {
        try await withStore { store in
            let m = manifest("m")
            try await store.linkBlob(blob, size: 5, into: repo)
            try await store.putManifest(m, tag: Tag("a"), in: repo)
            try await store.putManifest(m, tag: Tag("b"), in: repo)
            #expect(try await store.deleteTag(Tag("a")!, in: repo))
            #expect(try await store.manifest(m.digest, in: repo) != nil)
            #expect(try await store.tags(in: repo, after: nil, limit: 10) == ["b"])
            #expect(try await store.deleteManifest(m.digest, in: repo))
            #expect(try await store.tags(in: repo, after: nil, limit: 10).isEmpty)
            #expect(try await !store.deleteManifest(m.digest, in: repo))
        }
    }

    @Test("tags and repositories page in byte order")
    func pagination() async throws {
        try await withStore { store in
            let m = manifest("m")
            try await store.linkBlob(blob, size: 5, into: repo)
            for tag in ["b", "a", "C", "c"] { try await store.putManifest(m, tag: Tag(tag), in: repo) }
            #expect(try await store.tags(in: repo, after: nil, limit: 10) == ["C", "a", "b", "c"])
            #expect(try await store.tags(in: repo, after: "a", limit: 2) == ["b", "c"])
            try await store.linkBlob(blob, size: 5, into: other)
            #expect(try await store.repositories(after: nil, limit: 10).map(\.value) == ["acme/app", "acme/other"])
            #expect(try await store.repositories(after: "acme/app", limit: 10).map(\.value) == ["acme/other"])
        }
    }

    @Test("referrers are found by subject and filtered by artifact type")
    func referrers() async throws {
        try await withStore { store in
            let subject = Digest.of(Array("subject".utf8))
            for repository in [repo, other] { try await store.linkBlob(blob, size: 5, into: repository) }
            try await store.putManifest(manifest("sbom", subject: subject, artifactType: "application/sbom"), tag: nil, in: repo)
            try await store.putManifest(manifest("sig", subject: subject, artifactType: "application/sig"), tag: nil, in: repo)
            try await store.putManifest(manifest("sig2", subject: subject, artifactType: "application/sig"), tag: nil, in: other)
            #expect(try await store.referrers(of: subject, in: repo, artifactType: nil).count == 2)
            #expect(try await store.referrers(of: subject, in: repo, artifactType: "application/sig").map(\.artifactType) == ["application/sig"])
        }
    }

    @Test("completing an upload removes the session and links the blob in one step")
    func uploads() async throws {
        try await withStore { store in
            let start = Date(timeIntervalSince1970: 1000)
            try await store.createUpload(UploadSession(id: "u", repository: repo, createdAt: start, updatedAt: start))
            #expect(try await store.upload("u")?.stagedDigest == nil)
            try await store.updateUpload("u", size: 7, stagedDigest: blob, at: Date(timeIntervalSince1970: 2000))
            #expect(try await store.upload("u")?.size == 7)
            #expect(try await store.upload("u")?.stagedDigest == blob)
            #expect(try await store.openUploadCount() == 1)
            #expect(try await store.uploads(idleSince: Date(timeIntervalSince1970: 1500)).isEmpty)
            #expect(try await store.uploads(idleSince: Date(timeIntervalSince1970: 2500)).map(\.id) == ["u"])
            try await store.completeUpload("u", digest: blob, size: 7)
            #expect(try await store.upload("u") == nil)
            #expect(try await store.linkedBlobSize(blob, in: repo) == 7)
            await #expect(throws: StoreError.notFound) { try await store.completeUpload("u", digest: blob, size: 7) }
        }
    }

    @Test("migrations are idempotent across restarts")
    func reopen() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-meta-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for round in 0..<2 {
            let access = try await SQLiteDatabaseAccess.open(path: "\(folder)/wharf.db", logger: Logger(label: "test"))
            let store = try await Stores.open(access).metadata
            if round == 0 { try await store.linkBlob(blob, size: 5, into: repo) }
            #expect(try await store.linkedBlobSize(blob, in: repo) == 5)
            try await access.shutdown()
        }
    }
}
