import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Tags as the hub shows them: what each points at, who pushed it and when, when it was last
/// pulled, and the images behind it — one per platform of a multi-platform index (attestations
/// left out), each with its compressed size and, for a single tag, its layers with the
/// Dockerfile instruction that made each.
public struct TagService: Sendable {
    let access: Access
    let registry: Registry

    /// One platform's image.
    public struct Image: Sendable {
        public let digest: Digest
        public let platform: Platform?
        /// Compressed bytes: config and layers.
        public let size: Int64
        public let pushedAt: Date
        public let pulledAt: Date?
        /// Build steps (only for a single tag): a layer's digest and size, or none for steps that made no layer.
        public let layers: [Layer]?
    }

    public struct Layer: Sendable {
        public let digest: Digest?
        public let size: Int64
        public let instruction: String
    }

    public struct TagDetail: Sendable {
        public let name: String
        public let digest: Digest
        public let mediaType: String
        public let isImage: Bool
        /// The default platform's compressed size (linux/amd64, else the first image).
        public let fullSize: Int64
        public let pushedAt: Date
        public let pushedBy: String?
        public let pulledAt: Date?
        public let images: [Image]
    }

    /// A page of the repository's tags, for a caller who may pull from it.
    public func list(in repository: RepositoryName, nameContains: String?, ordering: TagOrdering, offset: Int, limit: Int,
                     by principal: Principal?) async throws -> Page<TagDetail> {
        try await access.require(principal, .pull, on: repository)
        let page = try await registry.stores.catalog.tagPage(in: repository, nameContains: nameContains, ordering: ordering,
                                                             offset: offset, limit: limit)
        var details: [TagDetail] = []
        for record in page.items { details.append(try await detail(record, in: repository, withLayers: false)) }
        return Page(count: page.count, items: details)
    }

    /// One tag, with the layers of each image.
    public func show(_ raw: String, in repository: RepositoryName, by principal: Principal?) async throws -> TagDetail {
        try await access.require(principal, .pull, on: repository)
        guard let tag = Tag(raw), let record = try await registry.stores.catalog.tagRecord(tag, in: repository) else {
            throw HubError.notFound("tag")
        }
        return try await detail(record, in: repository, withLayers: true)
    }

    /// Deletes a tag (its manifest stays, reachable by digest).
    public func delete(_ raw: String, in repository: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .delete, on: repository)
        guard let tag = Tag(raw) else { throw HubError.notFound("tag") }
        do {
            try await registry.deleteManifest(.tag(tag), in: repository, by: principal?.name)
        } catch let error as RegistryError where error.code == .manifestUnknown {
            throw HubError.notFound("tag")
        }
    }

    private func detail(_ record: TagRecord, in repository: RepositoryName, withLayers: Bool) async throws -> TagDetail {
        let stored = record.manifest
        let parsed = try? Manifest.parse(stored.content, contentType: stored.mediaType)
        var images: [(manifest: Manifest, digest: Digest, platform: Platform?, pushedAt: Date, pulledAt: Date?)] = []
        if let parsed, parsed.isIndex {
            let entries = parsed.manifests.filter { !Self.isAttestation($0) }
            let children = try await registry.stores.catalog.manifestRecords(entries.map(\.digest), in: repository)
            for entry in entries {
                guard let child = children[entry.digest],
                      let manifest = try? Manifest.parse(child.manifest.content, contentType: child.manifest.mediaType),
                      !manifest.isIndex else { continue }
                images.append((manifest, entry.digest, entry.platform, child.manifest.createdAt, child.pulledAt))
            }
        } else if let parsed {
            images.append((parsed, stored.digest, nil, stored.createdAt, record.manifestPulledAt))
        }
        let configs = await ImageConfigReader(registry: registry).summaries(of: images.compactMap(\.manifest.config))
        let built: [Image] = images.map { image in
            let config = image.manifest.config.flatMap { configs[$0.digest] }
            let platform = image.platform ?? config.flatMap { config in
                config.architecture.map { Platform(architecture: $0, os: config.os ?? "", variant: config.variant) }
            }
            return Image(digest: image.digest, platform: platform, size: image.manifest.contentSize, pushedAt: image.pushedAt,
                         pulledAt: image.pulledAt, layers: withLayers ? Self.layers(of: image.manifest, config: config) : nil)
        }
        let isImage = images.contains { image in
            image.manifest.config.map { ImageConfigReader.imageConfigTypes.contains($0.mediaType) } ?? false
        }
        let main = built.first { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" } ?? built.first
        return TagDetail(name: record.name, digest: stored.digest, mediaType: stored.mediaType, isImage: isImage,
                         fullSize: main?.size ?? Int64(stored.content.count), pushedAt: record.pushedAt, pushedBy: record.pushedBy,
                         pulledAt: record.pulledAt, images: built)
    }

    /// Index entries that are attestations (BuildKit's provenance and SBOMs), not images.
    static func isAttestation(_ entry: Descriptor) -> Bool {
        (entry.platform?.os == "unknown" && entry.platform?.architecture == "unknown")
            || entry.annotations?["vnd.docker.reference.type"] == "attestation-manifest"
    }

    /// The build steps of an image: each history entry with the layer it made, in order.
    static func layers(of manifest: Manifest, config: ImageConfigSummary?) -> [Layer] {
        guard let history = config?.history, !history.isEmpty else {
            return manifest.layers.map { Layer(digest: $0.digest, size: $0.size, instruction: "") }
        }
        var remaining = manifest.layers[...]
        var layers: [Layer] = []
        for step in history {
            if step.emptyLayer {
                layers.append(Layer(digest: nil, size: 0, instruction: step.createdBy))
            } else if let layer = remaining.popFirst() {
                layers.append(Layer(digest: layer.digest, size: layer.size, instruction: step.createdBy))
            }
        }
        layers += remaining.map { Layer(digest: $0.digest, size: $0.size, instruction: "") }
        return layers
    }
}
