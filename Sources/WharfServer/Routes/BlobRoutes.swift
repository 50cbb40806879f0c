import Hummingbird
import WharfCore
import WharfHub

extension RegistryRoutes {
    /// `GET`/`HEAD /v2/<name>/blobs/<digest>`, with `Range` support.
    func getBlob(_ request: Request, name: RepositoryName, digest raw: String) async throws -> Response {
        let digest = try RequestValues.digest(raw)
        let head = request.method == .head
        var headers: HTTPFields = [
            .dockerContentDigest: digest.description,
            .contentType: "application/octet-stream",
            .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
            .cacheControl: "max-age=31536000",
        ]
        guard let size = try await registry.linkedBlobSize(digest, in: name) else {
            // Manifests are content too: serve their bytes by digest, as Distribution does.
            guard let manifest = try await registry.manifest(digest, in: name) else {
                throw RegistryError.blobUnknown(digest)
            }
            return .json(manifest.content, head: head, contentType: manifest.mediaType, headers: headers)
        }
        if !head, let location = registry.blobRedirect(for: digest) {
            return .empty(.temporaryRedirect, headers: [.location: location, .dockerContentDigest: digest.description])
        }
        let range = try ByteRange.requested(request.headers[.range], size: size)
        let span = range ?? 0..<size
        headers[.contentLength] = String(span.count)
        if range != nil {
            headers[.contentRange] = "bytes \(span.lowerBound)-\(span.upperBound - 1)/\(size)"
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if head || span.isEmpty { return Response(status: status, headers: headers) }
        let registry = self.registry
        let body = ResponseBody(contentLength: Int(span.count)) { writer in
            var batch = BufferBatch()
            try await registry.readBlob(digest, range: range) { buffer in
                if let full = batch.add(buffer) { try await writer.write(contentsOf: full) }
            }
            if let rest = batch.drain() { try await writer.write(contentsOf: rest) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from the repository.
    func deleteBlob(name: RepositoryName, digest raw: String) async throws -> Response {
        let digest = try RequestValues.digest(raw)
        try await registry.deleteBlob(digest, in: name)
        return .empty(.accepted, headers: [.dockerContentDigest: digest.description])
    }
}
