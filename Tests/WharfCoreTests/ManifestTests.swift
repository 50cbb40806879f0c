import Testing
@testable import WharfCore

@Suite("Manifest parsing")
struct ManifestTests {
    static let config = "sha256:" + String(repeating: "c", count: 64)
    static let layer = "sha256:" + String(repeating: "1", count: 64)
    static let foreign = "sha256:" + String(repeating: "f", count: 64)

    static func image(mediaType: String? = MediaType.ociManifest, extra: String = "") -> [UInt8] {
        let type = mediaType.map { "\"mediaType\":\"\($0)\"," } ?? ""
        return Array("""
            {"schemaVersion":2,\(type)"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(config)","size":10},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(layer)","size":20},
            {"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"\(foreign)","size":30,"urls":["https://example.com/x"]}]\(extra)}
            """.utf8)
    }

    @Test("an image manifest requires its config and distributable layers")
    func requiredBlobs() throws {
        let manifest = try Manifest.parse(Self.image(), contentType: MediaType.ociManifest)
        #expect(manifest.requiredBlobs.map(\.description) == [Self.config, Self.layer])
        #expect(manifest.artifactType == "application/vnd.oci.image.config.v1+json")
        #expect(manifest.contentSize == 60)
        #expect(!manifest.isIndex)
    }

    @Test("the media type comes from the body, else Content-Type, else the shape")
    func mediaTypeResolution() throws {
        #expect(try Manifest.parse(Self.image(mediaType: nil), contentType: MediaType.dockerManifest).mediaType == MediaType.dockerManifest)
        #expect(try Manifest.parse(Self.image(mediaType: nil), contentType: nil).mediaType == MediaType.ociManifest)
        #expect(try Manifest.parse(Self.image(), contentType: "application/json").mediaType == MediaType.ociManifest)
    }

    @Test("a body mediaType that contradicts Content-Type is invalid")
    func contradiction() {
        #expect(throws: RegistryError.self) {
            try Manifest.parse(Self.image(), contentType: MediaType.dockerManifest)
        }
    }

    @Test("subject and artifactType are read")
    func subject() throws {
        let subject = "sha256:" + String(repeating: "5", count: 64)
        let bytes = Self.image(extra: ",\"artifactType\":\"application/x-sbom\",\"subject\":{\"mediaType\":\"\(MediaType.ociManifest)\",\"digest\":\"\(subject)\",\"size\":1}")
        let manifest = try Manifest.parse(bytes, contentType: nil)
        #expect(manifest.subject?.digest.description == subject)
        #expect(manifest.artifactType == "application/x-sbom")
    }

    @Test("an index lists child manifests with platforms")
    func index() throws {
        let child = "sha256:" + String(repeating: "9", count: 64)
        let bytes = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.dockerManifestList)","manifests":[
            {"mediaType":"\(MediaType.dockerManifest)","digest":"\(child)","size":5,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}
            """.utf8)
        let manifest = try Manifest.parse(bytes, contentType: MediaType.dockerManifestList)
        #expect(manifest.isIndex)
        #expect(manifest.requiredBlobs.isEmpty)
        #expect(manifest.manifests.first?.platform == Platform(architecture: "arm64", os: "linux", variant: "v8"))
    }

    @Test("malformed manifests are MANIFEST_INVALID", arguments: [
        "not json", "{}", "[]", #"{"schemaVersion":1,"name":"x"}"#, #"{"schemaVersion":3,"config":{}}"#,
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
        #"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:zz","size":1},"layers":[]}"#,
        #"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:\#(String(repeating: "a", count: 64))","size":"1"},"layers":[]}"#,
    ])
    func malformed(_ body: String) {
        #expect {
            try Manifest.parse(Array(body.utf8), contentType: nil)
        } throws: { error in
            (error as? RegistryError)?.code == .manifestInvalid
        }
    }
}
