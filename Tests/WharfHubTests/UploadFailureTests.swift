import Foundation
import NIOCore
import Testing
import WharfCore
import WharfMetadata
@testable import WharfHub

@Suite("Uploads after a chunk failed")
struct UploadFailureTests {
    struct Cut: Error {}

    @Test("bytes a failed chunk left staged are not part of the blob when the upload is then completed without a body")
    func failedChunkThenPut() async throws {
        try await TestHub.run { test in
            let name = RepositoryName("alice/app")!
            let registry = test.hub.registry
            let kept = Array(repeating: UInt8(7), count: 70_000)
            var session = try await registry.startUpload(in: name)
            session = try await registry.appendUpload(session.id, in: name, range: nil, body: TestHub.body(kept))
            // The next chunk's body breaks off after some of its bytes were staged.
            let broken = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                continuation.yield(ByteBuffer(bytes: Array(repeating: UInt8(9), count: 50_000)))
                continuation.finish(throwing: Cut())
            }
            await #expect(throws: RegistryError.self) {
                try await registry.appendUpload(session.id, in: name, range: nil, body: broken)
            }
            #expect(try await registry.upload(session.id, in: name).size == 70_000)
            #expect(try await registry.finishUpload(session.id, in: name, digest: Digest.of(kept), by: "alice",
                                                    lastChunk: nil as AsyncThrowingStream<ByteBuffer, any Error>?) == 70_000)
            var stored: [UInt8] = []
            try await registry.readBlob(Digest.of(kept), range: nil) { stored += Array(buffer: $0) }
            #expect(stored.count == kept.count)
            #expect(Digest.of(stored) == Digest.of(kept))
        }
    }
}
