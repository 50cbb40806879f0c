import Testing
@testable import WharfCore

@Suite("Repository names and references")
struct RepositoryNameTests {
    @Test("accepts names the spec allows", arguments: [
        "a/b", "library/nginx", "acme/tools/builder", "a-b/c__d", "a.b/c---d", "x1/y_2", "foo/blobs/uploads",
    ])
    func acceptsValid(_ raw: String) {
        #expect(RepositoryName(raw)?.value == raw)
    }

    @Test("a one-component name is in the library namespace")
    func officialNamespace() {
        #expect(RepositoryName("nginx")?.value == "library/nginx")
        #expect(RepositoryName("nginx")?.namespace == "library")
        #expect(RepositoryName("nginx")?.shortName == "nginx")
    }

    @Test("rejects invalid names", arguments: [
        "", "../x", "Foo/bar", "a//b", "/a", "a/", "a/-b", "a/b-", "a/b___c", "a/b..c", "a b/c", "a/%2e",
        String(repeating: "a", count: 300), "a/" + String(repeating: "b", count: 254),
    ])
    func rejectsInvalid(_ raw: String) {
        #expect(RepositoryName(raw) == nil)
    }

    @Test("tags follow the spec's pattern")
    func tags() {
        #expect(Tag("latest") != nil)
        #expect(Tag("v1.2.3-rc_1") != nil)
        #expect(Tag("_x") != nil)
        #expect(Tag(String(repeating: "a", count: 128)) != nil)
        #expect(Tag(String(repeating: "a", count: 129)) == nil)
        #expect(Tag(".x") == nil)
        #expect(Tag("-x") == nil)
        #expect(Tag("a/b") == nil)
        #expect(Tag("") == nil)
    }

    @Test("a reference with a colon is a digest")
    func references() {
        let digest = "sha256:" + String(repeating: "b", count: 64)
        #expect(Reference(digest) == .digest(Digest(digest)!))
        #expect(Reference("v1") == .tag(Tag("v1")!))
        #expect(Reference("sha256:short") == nil)
    }
}
