import Foundation

/// A manifest or index, parsed and validated from its exact bytes.
public struct Manifest: Sendable {
    /// The effective media type (from the body, else Content-Type, else inferred).
    public let mediaType: String
    /// `artifactType`, or for image manifests without one, the config's media type.
    public let artifactType: String?
    public let config: Descriptor?
    public let layers: [Descriptor]
    /// Child manifests of an index or manifest list.
    public let manifests: [Descriptor]
    public let subject: Descriptor?
    public let annotations: [String: String]?

    /// True for indexes and manifest lists, whose references are manifests, not blobs.
    public var isIndex: Bool { !manifests.isEmpty || MediaType.indexTypes.contains(mediaType) }

    /// Blobs that must be in the repository before this manifest is accepted: the config and
    /// every layer, except foreign layers that carry `urls`.
    public var requiredBlobs: [Digest] {
        var result: [Digest] = []
        if let config { result.append(config.digest) }
        for layer in layers where (layer.urls ?? []).isEmpty { result.append(layer.digest) }
        return result
    }

    /// Sum of config and layer sizes: what pulling this image downloads.
    public var contentSize: Int64 {
        (config?.size ?? 0) + layers.reduce(0) { $0 + $1.size }
    }
}

extension Manifest {
    /// The largest manifest accepted, as Distribution.
    public static let maxSize = 4 * 1024 * 1024

    /// Parses and validates manifest bytes sent with `contentType`.
    public static func parse(_ bytes: [UInt8], contentType: String?) throws(RegistryError) -> Manifest {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(bytes))
        } catch {
            throw RegistryError(.manifestInvalid, "manifest is not a valid JSON manifest: \(Self.describe(error))")
        }
        guard let version = document.schemaVersion else {
            throw RegistryError(.manifestInvalid, "manifest has no schemaVersion")
        }
        if version == 1 {
            throw RegistryError(.manifestInvalid, "Docker schema 1 manifests are not supported; push again with a current client")
        }
        guard version == 2 else {
            throw RegistryError(.manifestInvalid, "unsupported schemaVersion \(version); expected 2")
        }
        let declared = contentType.map(MediaType.essence).flatMap { Self.genericTypes.contains($0) ? nil : $0 }
        if let body = document.mediaType, let declared, body != declared {
            throw RegistryError(.manifestInvalid, "manifest mediaType \(body) does not match Content-Type \(declared)")
        }
        guard let mediaType = document.mediaType ?? declared ?? Self.inferType(document) else {
            throw RegistryError(.manifestInvalid, "cannot tell the manifest's media type: set mediaType or Content-Type")
        }
        if mediaType == MediaType.dockerSchema1 || mediaType == MediaType.dockerSchema1Signed {
            throw RegistryError(.manifestInvalid, "Docker schema 1 manifests are not supported; push again with a current client")
        }
        let isIndexType = MediaType.indexTypes.contains(mediaType)
        let isImageType = mediaType == MediaType.ociManifest || mediaType == MediaType.dockerManifest
        if isIndexType && document.manifests == nil {
            throw RegistryError(.manifestInvalid, "an index must have a manifests array")
        }
        if isImageType && document.config == nil {
            throw RegistryError(.manifestInvalid, "an image manifest must have a config descriptor")
        }
        if isImageType && document.layers == nil && mediaType == MediaType.dockerManifest {
            throw RegistryError(.manifestInvalid, "an image manifest must have a layers array")
        }
        if (isIndexType && (document.config != nil || document.layers != nil))
            || (isImageType && document.manifests != nil) {
            throw RegistryError(.manifestInvalid, "manifest fields do not match its media type \(mediaType)")
        }
        let config = try document.config.map { d throws(RegistryError) in try d.validated(field: "config") }
        let layers = try (document.layers ?? []).map { d throws(RegistryError) in try d.validated(field: "layers") }
        let manifests = try (document.manifests ?? []).map { d throws(RegistryError) in try d.validated(field: "manifests") }
        let subject = try document.subject.map { d throws(RegistryError) in try d.validated(field: "subject") }
        let artifactType = document.artifactType ?? (isIndexType ? nil : config?.mediaType)
        return Manifest(
            mediaType: mediaType, artifactType: artifactType, config: config, layers: layers,
            manifests: manifests, subject: subject, annotations: document.annotations
        )
    }

    /// Content types that say nothing about which manifest this is.
    private static let genericTypes: Set<String> = ["", "application/json", "application/octet-stream", "*/*", "text/plain"]

    private static func inferType(_ document: Document) -> String? {
        if document.manifests != nil { return MediaType.ociIndex }
        if document.config != nil { return MediaType.ociManifest }
        return nil
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "malformed JSON"
        }
    }

    /// The JSON shape shared by image manifests and indexes.
    private struct Document: Decodable {
        var schemaVersion: Int?
        var mediaType: String?
        var artifactType: String?
        var config: RawDescriptor?
        var layers: [RawDescriptor]?
        var manifests: [RawDescriptor]?
        var subject: RawDescriptor?
        var annotations: [String: String]?
    }

    private struct RawDescriptor: Decodable {
        var mediaType: String
        var digest: String
        var size: Int64
        var urls: [String]?
        var annotations: [String: String]?
        var artifactType: String?
        var platform: Platform?

        func validated(field: String) throws(RegistryError) -> Descriptor {
            guard let digest = Digest(self.digest) else {
                throw RegistryError(.manifestInvalid, "\(field): invalid digest \(self.digest.prefix(200))")
            }
            guard size >= 0 else {
                throw RegistryError(.manifestInvalid, "\(field): negative size")
            }
            return Descriptor(mediaType: mediaType, digest: digest, size: size, urls: urls,
                              annotations: annotations, artifactType: artifactType, platform: platform)
        }
    }
}
