import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

extension RegistryRoutes {
    /// `POST /v2/<name>/blobs/uploads/`: a cross-repository mount, a whole blob (`?digest=`),
    /// or a new upload session.
    func startUpload(_ request: Request, name: RepositoryName, credential: Credential) async throws -> Response {
        let query = request.uri.queryParameters
        if let mount = query.get("mount"), let from = query.get("from"),
           let digest = Digest(mount), let source = RepositoryName(from),
           try await authorizer.mayPull(credential, from: source),
           try await registry.mount(digest, from: source, into: name, by: credential.principal?.name) {
            return blobCreated(digest, in: name)
        }
        if let raw = query.get("digest") {
            let digest = try RequestValues.digest(raw)
            _ = try await registry.uploadMonolithic(into: name, digest: digest, by: credential.principal?.name, body: request.body)
            return blobCreated(digest, in: name)
        }
        let session = try await registry.startUpload(in: name)
        return .empty(.accepted, headers: HTTPFields(UploadHeaders.of(session, repository: name)))
    }

    /// `PATCH <upload>`: appends a chunk (`Content-Range`) or a whole streamed body (Docker).
    func patchUpload(_ request: Request, name: RepositoryName, id: String) async throws -> Response {
        let range = try ByteRange.chunk(request.headers[.contentRange])
        if let range, let length = request.headers[.contentLength].flatMap({ Int64($0) }), length != Int64(range.count) {
            throw RegistryError(.sizeInvalid, "Content-Length \(length) does not match Content-Range \(range.lowerBound)-\(range.upperBound)")
        }
        let session = try await registry.appendUpload(id, in: name, range: range, body: request.body)
        return .empty(.accepted, headers: HTTPFields(UploadHeaders.of(session, repository: name)))
    }

    /// `PUT <upload>?digest=`: completes the upload, with an optional last chunk.
    func finishUpload(_ request: Request, name: RepositoryName, id: String, actor: String?) async throws -> Response {
        guard let raw = request.uri.queryParameters.get("digest") else {
            throw RegistryError(.digestInvalid, "the digest query parameter is required to complete an upload")
        }
        let digest = try RequestValues.digest(raw)
        if let range = try ByteRange.chunk(request.headers[.contentRange]) {
            _ = try await registry.appendUpload(id, in: name, range: range, body: request.body)
            _ = try await registry.finishUpload(id, in: name, digest: digest, by: actor, lastChunk: nil as RequestBody?)
        } else {
            let empty = request.headers[.contentLength] == "0"
            _ = try await registry.finishUpload(id, in: name, digest: digest, by: actor, lastChunk: empty ? nil : request.body)
        }
        return blobCreated(digest, in: name)
    }

    /// `GET <upload>`: how much has been received.
    func uploadStatus(name: RepositoryName, id: String) async throws -> Response {
        let session = try await registry.upload(id, in: name)
        return .empty(.noContent, headers: HTTPFields(UploadHeaders.of(session, repository: name)))
    }

    /// `DELETE <upload>`: cancels the upload.
    func cancelUpload(name: RepositoryName, id: String) async throws -> Response {
        try await registry.cancelUpload(id, in: name)
        return .empty(.noContent)
    }

    private func blobCreated(_ digest: Digest, in name: RepositoryName) -> Response {
        .empty(.created, headers: [
            .location: "/v2/\(name.value)/blobs/\(digest)",
            .dockerContentDigest: digest.description,
        ])
    }
}
