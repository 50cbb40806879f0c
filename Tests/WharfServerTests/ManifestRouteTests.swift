import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfCore
@testable import WharfServer

@Suite("Manifest, tag, catalog and referrer routes")
struct ManifestRouteTests {
    @Test("a manifest pushed by tag is served byte for byte by tag and by digest")
    func putAndGet() async throws {
        try await TestRegistry().run { client in
            let (bytes, digest) = try await client.pushImage(to: "acme/app", tag: "v1")
            for reference in ["v1", digest.description] {
                try await client.execute(uri: "/v2/acme/app/manifests/\(reference)", method: .get,
                                         headers: [.accept: MediaType.ociManifest]) { response in
                    #expect(response.status == .ok)
                    #expect(Array(buffer: response.body) == bytes)
                    #expect(response.headers[.contentType] == MediaType.ociManifest)
                    #expect(response.headers[.dockerContentDigest] == digest.description)
                }
            }
            try await client.execute(uri: "/v2/acme/app/manifests/v1", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentLength] == String(bytes.count))
                #expect(response.body.readableBytes == 0)
            }
        }
    }

    @Test("a one-component name is the library repository")
    func libraryAlias() async throws {
        try await TestRegistry().run { client in
            let (_, digest) = try await client.pushImage(to: "library/nginx", tag: "latest")
            try await client.execute(uri: "/v2/nginx/manifests/latest", method: .get) { response in
                #expect(response.headers[.dockerContentDigest] == digest.description)
            }
        }
    }

    @Test("a manifest naming a blob the repository lacks is MANIFEST_BLOB_UNKNOWN")
    func missingBlob() async throws {
        try await TestRegistry().run { client in
            let missing = Digest.of(Array("missing".utf8))
            let body = """
                {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"x","digest":"\(missing)","size":7},"layers":[]}
                """
            try await client.execute(uri: "/v2/acme/app/manifests/v1", method: .put, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
                #expect(errorCode(response) == "MANIFEST_BLOB_UNKNOWN")
            }
            try await client.execute(uri: "/v2/acme/app/tags/list", method: .get) { #expect(errorCode($0) == "NAME_UNKNOWN") }
        }
    }

    @Test("malformed JSON is MANIFEST_INVALID; a wrong digest reference is DIGEST_INVALID")
    func invalid() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/v2/acme/app/manifests/v1", method: .put, body: ByteBuffer(string: "{nope")) { response in
                #expect(errorCode(response) == "MANIFEST_INVALID")
            }
            try await client.pushImage(to: "acme/app", tag: "seed")
            let (bytes, _) = try await client.pushImage(to: "acme/app", tag: "v2")
            let wrong = Digest.of(Array("x".utf8))
            try await client.execute(uri: "/v2/acme/app/manifests/\(wrong)", method: .put, body: ByteBuffer(bytes: bytes)) { response in
                #expect(errorCode(response) == "DIGEST_INVALID")
            }
        }
    }

    @Test("an index whose child is missing is MANIFEST_UNKNOWN; with the child it is accepted")
    func index() async throws {
        try await TestRegistry().run { client in
            let (child, childDigest) = try await client.pushImage(to: "acme/app", tag: "amd64")
            let absent = Digest.of(Array("absent".utf8))
            func index(_ digest: Digest) -> String {
                """
                {"schemaVersion":2,"mediaType":"\(MediaType.ociIndex)","manifests":[{"mediaType":"\(MediaType.ociManifest)",
                "digest":"\(digest)","size":\(child.count),"platform":{"architecture":"amd64","os":"linux"}}]}
                """
            }
            try await client.execute(uri: "/v2/acme/app/manifests/multi", method: .put, body: ByteBuffer(string: index(absent))) { response in
                #expect(response.status == .badRequest)
                #expect(errorCode(response) == "MANIFEST_UNKNOWN")
            }
            try await client.execute(uri: "/v2/acme/app/manifests/multi", method: .put, body: ByteBuffer(string: index(childDigest))) { response in
                #expect(response.status == .created)
            }
            // A client that cannot read indexes gets the linux/amd64 image by tag.
            try await client.execute(uri: "/v2/acme/app/manifests/multi", method: .get, headers: [.accept: MediaType.ociManifest]) { response in
                #expect(response.headers[.dockerContentDigest] == childDigest.description)
            }
            try await client.execute(uri: "/v2/acme/app/manifests/multi", method: .get,
                                     headers: [.accept: "\(MediaType.ociIndex), \(MediaType.ociManifest)"]) { response in
                #expect(response.headers[.contentType] == MediaType.ociIndex)
            }
        }
    }

    @Test("deleting a tag keeps the manifest; deleting by digest removes manifest and tags")
    func deletes() async throws {
        try await TestRegistry().run { client in
            let (bytes, digest) = try await client.pushImage(to: "acme/app", tag: "a")
            try await client.execute(uri: "/v2/acme/app/manifests/b", method: .put, body: ByteBuffer(bytes: bytes)) { #expect($0.status == .created) }
            try await client.execute(uri: "/v2/acme/app/manifests/a", method: .delete) { #expect($0.status == .accepted) }
            try await client.execute(uri: "/v2/acme/app/manifests/a", method: .get) { #expect(errorCode($0) == "MANIFEST_UNKNOWN") }
            try await client.execute(uri: "/v2/acme/app/manifests/\(digest)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/acme/app/manifests/\(digest)", method: .delete) { #expect($0.status == .accepted) }
            try await client.execute(uri: "/v2/acme/app/manifests/b", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v2/acme/app/tags/list", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"name":"acme/app","tags":[]}"#)
            }
        }
    }

    @Test("tag lists page with n/last and a Link header")
    func tagPagination() async throws {
        try await TestRegistry().run { client in
            let (bytes, _) = try await client.pushImage(to: "acme/app", tag: "a")
            for tag in ["c", "b", "d"] {
                try await client.execute(uri: "/v2/acme/app/manifests/\(tag)", method: .put, body: ByteBuffer(bytes: bytes)) { #expect($0.status == .created) }
            }
            try await client.execute(uri: "/v2/acme/app/tags/list", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"name":"acme/app","tags":["a","b","c","d"]}"#)
                #expect(response.headers[.link] == nil)
            }
            try await client.execute(uri: "/v2/acme/app/tags/list?n=2", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"name":"acme/app","tags":["a","b"]}"#)
                #expect(response.headers[.link] == #"</v2/acme/app/tags/list?n=2&last=b>; rel="next""#)
            }
            try await client.execute(uri: "/v2/acme/app/tags/list?n=2&last=b", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"name":"acme/app","tags":["c","d"]}"#)
                #expect(response.headers[.link] == nil)
            }
            try await client.execute(uri: "/v2/acme/app/tags/list?n=-1", method: .get) { #expect(errorCode($0) == "PAGINATION_NUMBER_INVALID") }
        }
    }

    @Test("the catalog lists repositories in order with pagination")
    func catalog() async throws {
        try await TestRegistry().run { client in
            for name in ["b/x", "a/y", "c/z"] { try await client.pushBlob(Array(name.utf8), to: name) }
            try await client.execute(uri: "/v2/_catalog", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"repositories":["a/y","b/x","c/z"]}"#)
            }
            try await client.execute(uri: "/v2/_catalog?n=1&last=a/y", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"repositories":["b/x"]}"#)
                #expect(response.headers[.link] == #"</v2/_catalog?n=1&last=b/x>; rel="next""#)
            }
        }
    }

    @Test("a manifest with a subject gets OCI-Subject and appears among the subject's referrers")
    func referrers() async throws {
        try await TestRegistry().run { client in
            let (subjectBytes, subject) = try await client.pushImage(to: "acme/app", tag: "v1")
            let subjectField = ",\"artifactType\":\"application/vnd.example.sbom\",\"subject\":{\"mediaType\":\"\(MediaType.ociManifest)\",\"digest\":\"\(subject)\",\"size\":\(subjectBytes.count)},\"annotations\":{\"k\":\"v\"}"
            let config = try await client.pushBlob(Array("{}".utf8), to: "acme/app")
            let body = "{\"schemaVersion\":2,\"mediaType\":\"\(MediaType.ociManifest)\",\"config\":{\"mediaType\":\"\(MediaType.ociEmpty)\",\"digest\":\"\(config)\",\"size\":2},\"layers\":[]\(subjectField)}"
            let referrer = Digest.of(Array(body.utf8))
            try await client.execute(uri: "/v2/acme/app/manifests/\(referrer)", method: .put,
                                     headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created)
                #expect(response.headers[.ociSubject] == subject.description)
            }
            try await client.execute(uri: "/v2/acme/app/referrers/\(subject)", method: .get) { response in
                #expect(response.headers[.contentType] == MediaType.ociIndex)
                let text = String(buffer: response.body)
                #expect(text.contains(referrer.description))
                #expect(text.contains("application/vnd.example.sbom"))
                #expect(response.headers[.ociFiltersApplied] == nil)
            }
            try await client.execute(uri: "/v2/acme/app/referrers/\(subject)?artifactType=application/other", method: .get) { response in
                #expect(response.headers[.ociFiltersApplied] == "artifactType")
                #expect(!String(buffer: response.body).contains(referrer.description))
            }
            try await client.execute(uri: "/v2/acme/app/referrers/sha256:bad", method: .get) { #expect($0.status == .badRequest) }
        }
    }
}

