import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfCore
@testable import WharfServer

@Suite("Blob and upload routes")
struct UploadRouteTests {
    let content = Array("0123456789abcdefghij".utf8)

    @Test("a monolithic upload stores the blob and GET returns it with its digest")
    func monolithic() async throws {
        try await TestRegistry().run { client in
            let digest = try await client.pushBlob(content, to: "acme/app")
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(buffer: response.body) == content)
                #expect(response.headers[.dockerContentDigest] == digest.description)
                #expect(response.headers[.contentLength] == "20")
                #expect(response.headers[.dockerDistributionAPIVersion] == "registry/2.0")
            }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentLength] == "20")
                #expect(response.body.readableBytes == 0)
            }
        }
    }

    @Test("POST with ?digest= stores the blob in one request")
    func singlePost() async throws {
        try await TestRegistry().run { client in
            let digest = Digest.of(content)
            try await client.execute(uri: "/v2/acme/app/blobs/uploads/?digest=\(digest)", method: .post, body: ByteBuffer(bytes: content)) { response in
                #expect(response.status == .created)
                #expect(response.headers[.location] == "/v2/acme/app/blobs/\(digest)")
            }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .head) { #expect($0.status == .ok) }
        }
    }

    @Test("chunked upload with Content-Range, status, then PUT with a last chunk")
    func chunked() async throws {
        try await TestRegistry().run { client in
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.range] == "0-0")
                #expect(response.headers[.dockerUploadUUID] != nil)
                return response.headers[.location]!
            }
            try await client.execute(uri: location, method: .patch, headers: [.contentRange: "0-9", .contentLength: "10"],
                                     body: ByteBuffer(bytes: content[0..<10])) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.range] == "0-9")
            }
            try await client.execute(uri: location, method: .get) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.range] == "0-9")
            }
            let digest = Digest.of(content)
            try await client.execute(uri: "\(location)?digest=\(digest)", method: .put, body: ByteBuffer(bytes: content[10...])) { response in
                #expect(response.status == .created)
                #expect(response.headers[.dockerContentDigest] == digest.description)
            }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get) { #expect(Array(buffer: $0.body) == content) }
        }
    }

    @Test("a chunk at the wrong offset is 416 with the current Range, and the upload can resume")
    func outOfOrder() async throws {
        try await TestRegistry().run { client in
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { try #require($0.headers[.location]) }
            try await client.execute(uri: location, method: .patch, headers: [.contentRange: "0-4"], body: ByteBuffer(bytes: content[0..<5])) { #expect($0.status == .accepted) }
            try await client.execute(uri: location, method: .patch, headers: [.contentRange: "10-14"], body: ByteBuffer(bytes: content[10..<15])) { response in
                #expect(response.status == .rangeNotSatisfiable)
                #expect(response.headers[.range] == "0-4")
                #expect(errorCode(response) == "RANGE_INVALID")
            }
            try await client.execute(uri: location, method: .patch, headers: [.contentRange: "5-19"], body: ByteBuffer(bytes: content[5...])) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.range] == "0-19")
            }
            try await client.execute(uri: "\(location)?digest=\(Digest.of(content))", method: .put) { #expect($0.status == .created) }
        }
    }

    @Test("a wrong digest is DIGEST_INVALID and stores nothing")
    func wrongDigest() async throws {
        try await TestRegistry().run { client in
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { try #require($0.headers[.location]) }
            let claimed = Digest.of(Array("something else".utf8))
            try await client.execute(uri: "\(location)?digest=\(claimed)", method: .put, body: ByteBuffer(bytes: content)) { response in
                #expect(response.status == .badRequest)
                #expect(errorCode(response) == "DIGEST_INVALID")
            }
            for digest in [claimed, Digest.of(content)] {
                try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(errorCode(response) == "BLOB_UNKNOWN")
                }
            }
            try await client.execute(uri: location, method: .get) { #expect(errorCode($0) == "BLOB_UPLOAD_UNKNOWN") }
        }
    }

    @Test("a sha512 blob is verified with sha512")
    func sha512() async throws {
        try await TestRegistry().run { client in
            let digest = Digest.of(content, algorithm: .sha512)
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { try #require($0.headers[.location]) }
            try await client.execute(uri: location, method: .patch, body: ByteBuffer(bytes: content)) { #expect($0.status == .accepted) }
            try await client.execute(uri: "\(location)?digest=\(digest)", method: .put) { #expect($0.status == .created) }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get) { #expect(Array(buffer: $0.body) == content) }
        }
    }

    @Test("a cancelled upload is gone")
    func cancel() async throws {
        try await TestRegistry().run { client in
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { try #require($0.headers[.location]) }
            try await client.execute(uri: location, method: .delete) { #expect($0.status == .noContent) }
            try await client.execute(uri: location, method: .patch, body: ByteBuffer(bytes: content)) { response in
                #expect(response.status == .notFound)
                #expect(errorCode(response) == "BLOB_UPLOAD_UNKNOWN")
            }
        }
    }

    @Test("an upload belongs to the repository that opened it")
    func uploadScopedToRepository() async throws {
        try await TestRegistry().run { client in
            let location = try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { try #require($0.headers[.location]) }
            let id = location.split(separator: "/").last!
            try await client.execute(uri: "/v2/acme/other/blobs/uploads/\(id)", method: .get) { #expect(errorCode($0) == "BLOB_UPLOAD_UNKNOWN") }
        }
    }

    @Test("mount links a blob from a repository that has it (201), else opens an upload (202)")
    func mount() async throws {
        try await TestRegistry().run { client in
            let digest = try await client.pushBlob(content, to: "acme/app")
            try await client.execute(uri: "/v2/acme/copy/blobs/uploads/?mount=\(digest)&from=acme/app", method: .post) { response in
                #expect(response.status == .created)
                #expect(response.headers[.dockerContentDigest] == digest.description)
            }
            try await client.execute(uri: "/v2/acme/copy/blobs/\(digest)", method: .head) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/acme/third/blobs/uploads/?mount=\(digest)&from=acme/nothing", method: .post) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.location] != nil)
            }
            try await client.execute(uri: "/v2/acme/third/blobs/\(digest)", method: .head) { #expect($0.status == .notFound) }
        }
    }

    @Test("Range GET returns 206 with Content-Range; an unsatisfiable range is 416")
    func ranges() async throws {
        try await TestRegistry().run { client in
            let digest = try await client.pushBlob(content, to: "acme/app")
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get, headers: [.range: "bytes=2-5"]) { response in
                #expect(response.status == .partialContent)
                #expect(response.headers[.contentRange] == "bytes 2-5/20")
                #expect(Array(buffer: response.body) == Array(content[2...5]))
            }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get, headers: [.range: "bytes=30-"]) { response in
                #expect(response.status == .rangeNotSatisfiable)
            }
        }
    }

    @Test("deleting a blob unlinks it from the repository only")
    func deleteBlob() async throws {
        try await TestRegistry().run { client in
            let digest = try await client.pushBlob(content, to: "acme/app")
            try await client.pushBlob(content, to: "acme/other")
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .delete) { #expect($0.status == .accepted) }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .get) { #expect(errorCode($0) == "BLOB_UNKNOWN") }
            try await client.execute(uri: "/v2/acme/other/blobs/\(digest)", method: .get) { #expect(Array(buffer: $0.body) == content) }
            try await client.execute(uri: "/v2/acme/app/blobs/\(digest)", method: .delete) { #expect($0.status == .notFound) }
        }
    }

    @Test("bad names and digests get their error codes", arguments: [
        ("/v2/Acme/app/blobs/uploads/", HTTPRequest.Method.post, "NAME_INVALID"),
        ("/v2/acme/app/blobs/sha256:nothex", .get, "DIGEST_INVALID"),
        ("/v2/acme/app/blobs/uploads/nope", .get, "BLOB_UPLOAD_UNKNOWN"),
        ("/v2/acme/app/tags/list", .put, "UNSUPPORTED"),
        ("/v2/acme/app/something", .get, "NOT_FOUND"),
    ])
    func badRequests(_ uri: String, _ method: HTTPRequest.Method, _ code: String) async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: uri, method: method) { response in
                #expect(errorCode(response) == code)
                #expect(response.status.code >= 400)
            }
        }
    }
}
