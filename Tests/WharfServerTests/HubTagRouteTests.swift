import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// The Docker Hub API's tags: what each points at, who pushed it, the images per platform with
/// their sizes and layers, pull times and counts, paging, filtering, ordering and deletion.
@Suite("Docker Hub API: tags and pulls")
struct HubTagRouteTests {
    /// Pushes an image whose config names `arch` and has one history step per layer plus an empty one;
    /// returns its manifest digest and compressed size (config + layers).
    @discardableResult
    static func pushImage(_ client: any TestClientProtocol, to name: String, reference: String, arch: String,
                          layers: [String]) async throws -> (digest: Digest, size: Int64) {
        let history = (["{\"created_by\":\"ENV A=1\",\"empty_layer\":true}"] + layers.map { "{\"created_by\":\"RUN make \($0)\"}" })
            .joined(separator: ",")
        let config = Array("{\"architecture\":\"\(arch)\",\"os\":\"linux\",\"history\":[\(history)]}".utf8)
        let configDigest = try await client.pushBlob(config, to: name)
        var descriptors: [String] = []
        var size = Int64(config.count)
        for layer in layers {
            let bytes = Array(layer.utf8)
            let digest = try await client.pushBlob(bytes, to: name)
            descriptors.append("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"\(digest)\",\"size\":\(bytes.count)}")
            size += Int64(bytes.count)
        }
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(configDigest)","size":\(config.count)},
            "layers":[\(descriptors.joined(separator: ","))]}
            """.utf8)
        try await client.execute(uri: "/v2/\(name)/manifests/\(reference == "" ? Digest.of(manifest).description : reference)", method: .put,
                                 headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(bytes: manifest)) { response in
            #expect(response.status == .created)
        }
        return (Digest.of(manifest), size)
    }

    @Test("a multi-platform tag lists one image per platform (attestations left out) with sizes; one tag adds layers")
    func multiPlatform() async throws {
        try await TestRegistry().run { client in
            let amd = try await Self.pushImage(client, to: "root/app", reference: "", arch: "amd64", layers: ["a1", "a22"])
            let arm = try await Self.pushImage(client, to: "root/app", reference: "", arch: "arm64", layers: ["b333"])
            let attestation = try await Self.pushImage(client, to: "root/app", reference: "", arch: "unknown", layers: ["att"])
            func entry(_ digest: Digest, _ arch: String, _ os: String, _ extra: String = "") -> String {
                "{\"mediaType\":\"\(MediaType.ociManifest)\",\"digest\":\"\(digest)\",\"size\":1,\"platform\":{\"architecture\":\"\(arch)\",\"os\":\"\(os)\"\(extra)}}"
            }
            let index = Array("""
                {"schemaVersion":2,"mediaType":"\(MediaType.ociIndex)","manifests":[\(entry(amd.digest, "amd64", "linux")),
                \(entry(arm.digest, "arm64", "linux", ",\"variant\":\"v8\"")),\(entry(attestation.digest, "unknown", "unknown"))]}
                """.utf8)
            try await client.execute(uri: "/v2/root/app/manifests/multi", method: .put, headers: [.contentType: MediaType.ociIndex],
                                     body: ByteBuffer(bytes: index)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/", method: .get) { response in
                let tags = HubTest.results(response)
                #expect(tags.count == 1)
                let tag = try #require(tags.first)
                #expect(tag["name"] as? String == "multi")
                #expect(tag["digest"] as? String == Digest.of(index).description)
                #expect(tag["media_type"] as? String == MediaType.ociIndex)
                #expect(tag["content_type"] as? String == "image")
                #expect(tag["last_updater_username"] as? String == TestRegistry.adminName)
                #expect(tag["tag_last_pulled"] is NSNull)
                #expect(HubTest.isHubTime(tag["tag_last_pushed"]))
                #expect(tag["full_size"] as? Int == Int(amd.size))
                let images = try #require(tag["images"] as? [[String: Any]])
                #expect(images.map { $0["digest"] as? String } == [amd.digest.description, arm.digest.description])
                #expect(images.map { $0["architecture"] as? String } == ["amd64", "arm64"])
                #expect(images.map { $0["size"] as? Int } == [Int(amd.size), Int(arm.size)])
                #expect(images[0]["variant"] is NSNull)
                #expect(images[1]["variant"] as? String == "v8")
                #expect(images.allSatisfy { $0["layers"] == nil })
                for field in ["full_size", "size", "id", "repository"] { #expect(HubTest.isInteger(field, in: response), "\(field)") }
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/multi/", method: .get) { response in
                let images = try #require(HubTest.object(response)["images"] as? [[String: Any]])
                let layers = try #require(images.first?["layers"] as? [[String: Any]])
                #expect(layers.map { $0["instruction"] as? String } == ["ENV A=1", "RUN make a1", "RUN make a22"])
                #expect(layers.map { $0["size"] as? Int } == [0, 2, 3])
                #expect(layers[0]["digest"] == nil, "a step that made no layer has no digest")
                #expect(layers[1]["digest"] as? String == Digest.of(Array("a1".utf8)).description)
            }
        }
    }

    @Test("tags page, filter by name, order by name or push time, and delete")
    func listing() async throws {
        let registry = TestRegistry()
        let clock = registry.clock
        try await registry.run { client in
            for name in ["v1", "v2", "latest", "dev-v3"] {
                try await Self.pushImage(client, to: "root/app", reference: name, arch: "amd64", layers: ["l-\(name)"])
                clock.advance(by: 10)
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/?page_size=3", method: .get) { response in
                let body = HubTest.object(response)
                #expect(body["count"] as? Int == 4)
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["dev-v3", "latest", "v2"])
                #expect((body["next"] as? String)?.hasSuffix("/v2/repositories/root/app/tags/?page_size=3&page=2") == true)
            }
            try await client.execute(uri: "/v2/namespaces/root/repositories/app/tags?ordering=-last_updated&page_size=2", method: .get) { response in
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["v1", "v2"])
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/?ordering=name&name=V", method: .get) { response in
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["dev-v3", "v1", "v2"])
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/?ordering=-name", method: .get) { response in
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["v2", "v1", "latest", "dev-v3"])
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/?ordering=size", method: .get) { response in
                try HubTest.hubError(response, .badRequest)
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/v1/", method: .delete) { response in
                #expect(response.status == .noContent)
            }
            for uri in ["/v2/repositories/root/app/tags/v1/", "/v2/repositories/root/app/tags/no%20tag/"] {
                try await client.execute(uri: uri, method: .get) { response in
                    try HubTest.hubError(response, .notFound)
                }
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/v1/", method: .delete) { response in
                try HubTest.hubError(response, .notFound)
            }
        }
    }

    @Test("tags of a private repository are 404 to strangers; deleting needs the delete permission")
    func access() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
            try await Self.pushImage(alice, to: "alice/app", reference: "v1", arch: "amd64", layers: ["x"])
            try await anonymous.execute(uri: "/v2/repositories/alice/app/tags/v1/", method: .delete, headers: HubTest.basic("bobby")) { response in
                try HubTest.hubError(response, .forbidden)
            }
            _ = try await dependencies.hub.repositories.update(RepositoryName("alice/app")!, isPrivate: true, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            for headers in [HTTPFields(), HubTest.basic("bobby")] {
                try await anonymous.execute(uri: "/v2/repositories/alice/app/tags/", method: .get, headers: headers) { response in
                    try HubTest.hubError(response, .notFound)
                }
            }
            try await anonymous.execute(uri: "/v2/repositories/alice/app/tags/", method: .get, headers: HubTest.basic("alice")) { response in
                #expect(HubTest.results(response).count == 1)
            }
        }
    }

    @Test("a manifest GET is one pull (a HEAD none), counted in memory and written by the flush, with pull times")
    func pulls() async throws {
        try await TestRegistry().runWithDependencies { anonymous, dependencies in
            let client = AuthenticatedClient(base: anonymous, username: TestRegistry.adminName, password: TestRegistry.adminPassword)
            let image = try await Self.pushImage(client, to: "root/app", reference: "v1", arch: "amd64", layers: ["x"])
            try await Self.pushImage(client, to: "root/app", reference: "v2", arch: "amd64", layers: ["y"])
            try await client.execute(uri: "/v2/root/app/manifests/v1", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/root/app/manifests/\(image.digest)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/root/app/manifests/v1", method: .head) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/root/app/manifests/missing", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v2/repositories/root/app/", method: .get) { response in
                #expect(HubTest.object(response)["pull_count"] as? Int == 0, "counted pulls wait for the flush")
            }
            try await dependencies.hub.registry.flushPulls()
            try await client.execute(uri: "/v2/repositories/root/app/", method: .get) { response in
                #expect(HubTest.object(response)["pull_count"] as? Int == 2)
            }
            try await client.execute(uri: "/v2/repositories/root/app/tags/?ordering=name", method: .get) { response in
                let tags = HubTest.results(response)
                #expect(HubTest.isHubTime(tags.first?["tag_last_pulled"]))
                #expect(tags.last?["tag_last_pulled"] is NSNull)
                let images = tags.first?["images"] as? [[String: Any]]
                #expect(HubTest.isHubTime(images?.first?["last_pulled"]))
            }
            try await dependencies.hub.registry.flushPulls()
            try await client.execute(uri: "/v2/repositories/root/app/", method: .get) { response in
                #expect(HubTest.object(response)["pull_count"] as? Int == 2, "a flush adds each pull once")
            }
        }
    }
}
