import HTTPTypes
import Hummingbird
import NIOCore
import WharfCore
import WharfHub

extension RegistryRoutes {
    /// `GET`/`HEAD /v2/<name>/manifests/<reference>`: the exact stored bytes, negotiated on `Accept`.
    func getManifest(_ request: Request, name: RepositoryName, reference raw: String, account: String?,
                     context: WharfRequestContext) async throws -> Response {
        let reference = try RequestValues.existingReference(raw)
        let accept = AcceptedMediaTypes(headerValues: request.headers[values: .accept])
        let allowance = try await registry.admitPull(by: account, from: context.clientAddress, counts: request.method == .get)
        let manifest = try await registry.manifest(reference, in: name, accepting: accept, countsAsPull: request.method == .get)
        let etag = "\"\(manifest.digest)\""
        var headers: HTTPFields = [.dockerContentDigest: manifest.digest.description, .eTag: etag]
        if let values = allowance?.headerValues {
            headers[.rateLimitLimit] = values.limit
            headers[.rateLimitRemaining] = values.remaining
            headers[.dockerRateLimitSource] = values.source
        }
        if request.headers[values: .ifNoneMatch].contains(etag) {
            return .empty(.notModified, headers: headers)
        }
        headers[.contentType] = manifest.mediaType
        return .json(manifest.content, head: request.method == .head, contentType: manifest.mediaType, headers: headers)
    }

    /// `PUT /v2/<name>/manifests/<reference>`.
    func putManifest(_ request: Request, name: RepositoryName, reference raw: String, actor: String?) async throws -> Response {
        let reference = try RequestValues.reference(raw)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Manifest.maxSize {
            throw RegistryError.manifestTooLarge
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Manifest.maxSize)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw RegistryError.manifestTooLarge
        } catch is NIOTooManyBytesError {
            throw RegistryError.manifestTooLarge
        }
        let (stored, manifest) = try await registry.putManifest(
            Array(buffer: body), contentType: request.headers[.contentType], reference: reference, in: name, by: actor
        )
        var headers: HTTPFields = [
            .location: "/v2/\(name.value)/manifests/\(stored.digest)",
            .dockerContentDigest: stored.digest.description,
        ]
        if let subject = manifest.subject { headers[.ociSubject] = subject.digest.description }
        return .empty(.created, headers: headers)
    }

    /// `DELETE /v2/<name>/manifests/<reference>`: a tag deletes the tag, a digest the manifest.
    func deleteManifest(name: RepositoryName, reference raw: String, actor: String?) async throws -> Response {
        try await registry.deleteManifest(try RequestValues.existingReference(raw), in: name, by: actor)
        return .empty(.accepted)
    }
}

extension RegistryError {
    static var manifestTooLarge: RegistryError {
        RegistryError(.manifestTooLarge, "manifest is larger than the \(Manifest.maxSize / 1024 / 1024) MiB limit")
    }
}
