import Testing
@testable import WharfCore

@Suite("Digest")
struct DigestTests {
    @Test("parses sha256 and sha512 digests")
    func parsesRegistered() {
        let sha256 = "sha256:" + String(repeating: "a", count: 64)
        let sha512 = "sha512:" + String(repeating: "0", count: 128)
        #expect(Digest(sha256)?.algorithm == .sha256)
        #expect(Digest(sha512)?.algorithm == .sha512)
        #expect(Digest(sha256)?.description == sha256)
    }

    @Test("rejects malformed digests", arguments: [
        "", "sha256", "sha256:", "sha256:abc", "md5:" + String(repeating: "a", count: 32),
        "sha256:" + String(repeating: "A", count: 64), "sha256:" + String(repeating: "g", count: 64),
        "sha512:" + String(repeating: "a", count: 64), "sha256:" + String(repeating: "a", count: 65),
    ])
    func rejectsMalformed(_ raw: String) {
        #expect(Digest(raw) == nil)
    }

    @Test("hashes bytes like sha256sum")
    func hashesKnownVector() {
        #expect(Digest.of(Array("abc".utf8)).description
            == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.of([UInt8](), algorithm: .sha512).encoded.hasPrefix("cf83e1357eefb8bd"))
    }

    @Test("incremental hashing equals one-shot hashing")
    func incremental() {
        var hasher = DigestHasher(.sha256)
        hasher.update(Array("ab".utf8))
        hasher.update(Array("c".utf8))
        #expect(hasher.finalize() == Digest.of(Array("abc".utf8)))
    }
}
