import Hummingbird
import WharfCore
import WharfHub

/// The `/v2` registry API: parses the path from the right and hands off to the operation's handler.
struct RegistryRoutes: Sendable {
    let registry: Registry
    let repositories: RepositoryService
    let credentials: CredentialReader
    let authorizer: RegistryAuthorizer
    /// The Docker Hub API, which answers the `/v2` paths that are no registry endpoint.
    let hubAPI: HubRouteTable

    /// Registers the catch-all `/v2` routes on `router`.
    func register(on router: Router<WharfRequestContext>) {
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete] {
            router.on("/v2", method: method, use: handle)
            router.on("/v2/**", method: method, use: handle)
        }
    }

    @Sendable func handle(_ request: Request, context: WharfRequestContext) async throws -> Response {
        if HubRouteTable.claims(request.uri.path) { return try await hubAPI.respond(to: request, context: context) }
        guard let path = try RegistryPath.parse(request.uri.path) else {
            throw RegistryError(.notFound, "no such registry endpoint")
        }
        let challenge = Challenge(request: request, context: context, settings: authorizer.settings)
        let credential = try await credentials.credential(of: request, context: context, challenge: challenge)
        if let (name, action) = path.requirement(request.method) {
            try await authorizer.authorize(credential, action, on: name, request: request, context: context)
        }
        let actor = credential.principal?.name
        switch (request.method, path) {
        case (.get, .base), (.head, .base):
            if case .anonymous = credential { throw challenge.error() }
            return .json("{}", head: request.method == .head)
        case (.get, .catalog):
            return try await catalog(request, credential: credential)
        case (.get, .tags(let name)):
            return try await tags(request, name: name)
        case (.get, .manifest(let name, let reference)), (.head, .manifest(let name, let reference)):
            return try await getManifest(request, name: name, reference: reference, account: actor, context: context)
        case (.put, .manifest(let name, let reference)):
            return try await putManifest(request, name: name, reference: reference, actor: actor)
        case (.delete, .manifest(let name, let reference)):
            return try await deleteManifest(name: name, reference: reference, actor: actor)
        case (.get, .blob(let name, let digest)), (.head, .blob(let name, let digest)):
            return try await getBlob(request, name: name, digest: digest)
        case (.delete, .blob(let name, let digest)):
            return try await deleteBlob(name: name, digest: digest)
        case (.post, .uploads(let name)):
            return try await startUpload(request, name: name, credential: credential)
        case (.patch, .upload(let name, let id)):
            return try await patchUpload(request, name: name, id: id)
        case (.put, .upload(let name, let id)):
            return try await finishUpload(request, name: name, id: id, actor: actor)
        case (.get, .upload(let name, let id)):
            return try await uploadStatus(name: name, id: id)
        case (.delete, .upload(let name, let id)):
            return try await cancelUpload(name: name, id: id)
        case (.get, .referrers(let name, let digest)):
            return try await referrers(request, name: name, digest: digest)
        default:
            throw RegistryError(.unsupported, "\(request.method) is not supported on this endpoint")
        }
    }
}

extension Response {
    /// A JSON response with its length set; HEAD gets the headers only.
    static func json(_ body: some Collection<UInt8>, status: HTTPResponse.Status = .ok, head: Bool = false,
                     contentType: String = "application/json", headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        headers[.contentLength] = String(body.count)
        return Response(status: status, headers: headers, body: head ? .init() : .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func json(_ body: String, status: HTTPResponse.Status = .ok, head: Bool = false) -> Response {
        json(Array(body.utf8), status: status, head: head)
    }

    /// An empty response with the given headers.
    static func empty(_ status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentLength] = "0"
        return Response(status: status, headers: headers)
    }
}

/// Parsing of path segments and query values into domain types, with the OCI error for each.
enum RequestValues {
    static func digest(_ raw: some StringProtocol) throws(RegistryError) -> Digest {
        guard let digest = Digest(raw) else { throw RegistryError.invalidDigest(raw) }
        return digest
    }

    /// The reference a manifest PUT names: an invalid tag is `TAG_INVALID`, an invalid digest `DIGEST_INVALID`.
    static func reference(_ raw: String) throws(RegistryError) -> Reference {
        guard let reference = Reference(raw) else {
            if raw.contains(":") { throw RegistryError.invalidDigest(raw) }
            throw RegistryError(.tagInvalid, "invalid tag: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}",
                                detail: ["tag": String(raw.prefix(200))])
        }
        return reference
    }

    /// The reference a manifest GET, HEAD or DELETE names: one that cannot exist (an invalid tag)
    /// is simply unknown, as for any missing manifest.
    static func existingReference(_ raw: String) throws(RegistryError) -> Reference {
        guard let reference = Reference(raw) else {
            if raw.contains(":") { throw RegistryError.invalidDigest(raw) }
            throw RegistryError(.manifestUnknown, "manifest unknown", detail: ["reference": String(raw.prefix(200))])
        }
        return reference
    }
}
