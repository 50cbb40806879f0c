import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import WharfCore
import WharfHub
import WharfMetadata
import WharfTestSupport
@testable import WharfServer

/// A Wharf router over fresh stores in a temporary folder, driven through HummingbirdTesting.
///
/// `run` hands the body a client that sends the credentials of an administrator, `root`;
/// `setUp` can create more accounts first.
struct TestRegistry {
    static let adminName = "root"
    static let adminPassword = "root-password"

    let folder: String
    var settings = HubSettings()
    /// The clock every service reads; tests advance it instead of sleeping.
    var clock = ManualClock(Date())

    init() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-srv-\(UUID().uuidString)").path
    }

    func run(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await runWithDependencies { client, _ in try await body(AuthenticatedClient(base: client, username: Self.adminName, password: Self.adminPassword)) }
    }

    /// Runs `body` with an anonymous client and the application's services, once per database the
    /// tests have (SQLite, and PostgreSQL when `WHARF_TEST_POSTGRES_URL` is set).
    func runWithDependencies(_ body: @Sendable (any TestClientProtocol, WharfDependencies) async throws -> Void) async throws {
        for database in TestDatabase.available {
            try await database.withFreshDatabase { access in try await runWithDependencies(on: access, body) }
        }
    }

    private func runWithDependencies(on access: any SQLDatabaseAccess,
                                     _ body: @Sendable (any TestClientProtocol, WharfDependencies) async throws -> Void) async throws {
        let dependencies = try await WharfDependencies.local(dataDirectory: folder, database: access, settings: settings, bcryptCost: 4,
                                                             clock: clock, logger: Logger(label: "test"))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let app = Application(router: buildRouter(dependencies), logger: logger)
        _ = try await dependencies.hub.accounts.createUser(username: Self.adminName, email: nil, password: Self.adminPassword,
                                                           isAdmin: true, allowReserved: true)
        try await app.test(.router) { client in try await body(client, dependencies) }
    }
}

/// A test client that adds HTTP Basic credentials to every request.
struct AuthenticatedClient: TestClientProtocol {
    let base: any TestClientProtocol
    let authorization: String

    init(base: any TestClientProtocol, username: String, password: String) {
        self.base = base
        authorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = headers
        if headers[.authorization] == nil { headers[.authorization] = authorization }
        return try await base.executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    var port: Int? { base.port }
}

extension TestClientProtocol {
    /// Uploads `content` monolithically (POST then PUT) and returns its digest.
    @discardableResult
    func pushBlob(_ content: [UInt8], to name: String) async throws -> Digest {
        let digest = Digest.of(content)
        let location = try await execute(uri: "/v2/\(name)/blobs/uploads/", method: .post) { response in
            guard response.status == .accepted, let location = response.headers[.location] else {
                throw TestFailure("upload start failed: \(response.status)")
            }
            return location
        }
        try await execute(uri: "\(location)?digest=\(digest)", method: .put, body: ByteBuffer(bytes: content)) { response in
            guard response.status == .created else { throw TestFailure("blob push failed: \(response.status)") }
        }
        return digest
    }

    /// Pushes an image manifest with one config and one layer; returns the manifest's bytes and digest.
    @discardableResult
    func pushImage(to name: String, tag: String, layer: String = "layer", extra: String = "") async throws -> (bytes: [UInt8], digest: Digest) {
        let config = try await pushBlob(Array("{\"architecture\":\"amd64\",\"os\":\"linux\"}".utf8), to: name)
        let layerBytes = Array(layer.utf8)
        let layerDigest = try await pushBlob(layerBytes, to: name)
        let bytes = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(config)","size":38},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(layerDigest)","size":\(layerBytes.count)}]\(extra)}
            """.utf8)
        try await execute(uri: "/v2/\(name)/manifests/\(tag)", method: .put,
                          headers: [.contentType: MediaType.ociManifest], body: ByteBuffer(bytes: bytes)) { response in
            guard response.status == .created else { throw TestFailure("manifest push failed: \(response.status) \(String(buffer: response.body))") }
        }
        return (bytes, Digest.of(bytes))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The first OCI error code in a response body.
func errorCode(_ response: TestResponse) -> String? {
    struct Body: Decodable { struct E: Decodable { let code: String }; let errors: [E] }
    return (try? JSONDecoder().decode(Body.self, from: Data(buffer: response.body)))?.errors.first?.code
}
