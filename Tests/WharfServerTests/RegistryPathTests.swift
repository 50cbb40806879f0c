import Testing
import WharfCore
@testable import WharfServer

@Suite("Registry path parsing")
struct RegistryPathTests {
    let name = RepositoryName("a/b/c")!

    @Test("paths are parsed from the right")
    func shapes() throws {
        #expect(try RegistryPath.parse("/v2/") == .base)
        #expect(try RegistryPath.parse("/v2") == .base)
        #expect(try RegistryPath.parse("/v2/_catalog") == .catalog)
        #expect(try RegistryPath.parse("/v2/a/b/c/tags/list") == .tags(name))
        #expect(try RegistryPath.parse("/v2/a/b/c/manifests/v1") == .manifest(name, reference: "v1"))
        #expect(try RegistryPath.parse("/v2/a/b/c/blobs/sha256:x") == .blob(name, digest: "sha256:x"))
        #expect(try RegistryPath.parse("/v2/a/b/c/blobs/uploads/") == .uploads(name))
        #expect(try RegistryPath.parse("/v2/a/b/c/blobs/uploads") == .uploads(name))
        #expect(try RegistryPath.parse("/v2/a/b/c/blobs/uploads/123") == .upload(name, id: "123"))
        #expect(try RegistryPath.parse("/v2/a/b/c/referrers/sha256:x") == .referrers(name, digest: "sha256:x"))
        #expect(try RegistryPath.parse("/v2/nginx/manifests/latest") == .manifest(RepositoryName("library/nginx")!, reference: "latest"))
    }

    @Test("a repository may be named after an endpoint")
    func endpointNames() throws {
        #expect(try RegistryPath.parse("/v2/foo/blobs/uploads/manifests/x") == .manifest(RepositoryName("foo/blobs/uploads")!, reference: "x"))
        #expect(try RegistryPath.parse("/v2/x/manifests/tags/list") == .tags(RepositoryName("x/manifests")!))
    }

    @Test("unknown shapes are not registry paths")
    func unknown() throws {
        #expect(try RegistryPath.parse("/v2/a/b") == nil)
        #expect(try RegistryPath.parse("/v3/a/b/tags/list") == nil)
        #expect(try RegistryPath.parse("/v2x") == nil)
        #expect(try RegistryPath.parse("/v2/a/b/manifests/") == nil)
    }

    @Test("invalid names are NAME_INVALID", arguments: ["/v2/../x/tags/list", "/v2/Foo/bar/tags/list", "/v2/a//b/manifests/x"])
    func invalidNames(_ path: String) {
        #expect(throws: RegistryError.self) { try RegistryPath.parse(path) }
    }
}

@Suite("Byte ranges")
struct ByteRangeTests {
    @Test("GET ranges resolve against the blob size")
    func requested() throws {
        #expect(try ByteRange.requested(nil, size: 10) == nil)
        #expect(try ByteRange.requested("bytes=0-3", size: 10) == 0..<4)
        #expect(try ByteRange.requested("bytes=5-", size: 10) == 5..<10)
        #expect(try ByteRange.requested("bytes=-3", size: 10) == 7..<10)
        #expect(try ByteRange.requested("bytes=8-100", size: 10) == 8..<10)
        for bad in ["bytes=10-", "bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=-", "bytes=a-b"] {
            #expect(throws: RegistryError.self) { try ByteRange.requested(bad, size: 10) }
        }
    }

    @Test("chunk ranges are inclusive start-end")
    func chunk() throws {
        #expect(try ByteRange.chunk(nil) == nil)
        #expect(try ByteRange.chunk("0-9") == 0...9)
        #expect(try ByteRange.chunk("bytes=10-19") == 10...19)
        for bad in ["", "5", "9-5", "-1-3", "a-b"] {
            #expect(throws: RegistryError.self) { try ByteRange.chunk(bad) }
        }
    }
}
