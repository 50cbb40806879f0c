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
        return Page(count: page.count, items: try await details(page.items, in: repository, withLayers: false))
    }

    /// One tag, with the layers of each image.
    public func show(_ raw: String, in repository: RepositoryName, by principal: Principal?) async throws -> TagDetail {
        try await access.require(principal, .pull, on: repository)
        guard let tag = Tag(raw), let record = try await registry.stores.catalog.tagRecord(tag, in: repository) else {
            throw HubError.notFound("tag")
        }
        return try await details([record], in: repository, withLayers: true)[0]
    }

    /// Deletes a tag (its manifest stays, reachable by digest).
    public func delete(_ raw: String, in repository: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .delete, on: repository)
        guard let tag = Tag(raw) else { throw HubError.notFound("tag") }
        do {
            try await registry.deleteManifest(.tag(tag), in: repository, by: principal?.name)
        } catch let error as RegistryError where error.code == .manifestUnknown {
            throw HubError.notFound("tag")
        } catch let error as RegistryError where error.code == .denied {
            throw HubError.forbidden(error.message)  // an immutable tag
        }
    }

    /// One platform's image before its config is read.
    private struct Found {
        let manifest: Manifest
        let digest: Digest
        let platform: Platform?
        let pushedAt: Date
        let pulledAt: Date?
    }

    /// Manifests parsed before, by digest: a digest names the same bytes forever, so an entry never goes stale.
    private static let parsedManifests = BoundedCache<Digest, Manifest>(budget: 16 * 1024 * 1024) { manifest in
        512 + 160 * (manifest.layers.count + manifest.manifests.count)
    }

    /// The stored manifest, parsed (once per digest while it stays in the cache).
    static func parse(_ stored: StoredManifest) -> Manifest? {
        if let cached = parsedManifests.value(stored.digest) { return cached }
        guard let manifest = try? Manifest.parse(stored.content, contentType: stored.mediaType) else { return nil }
        parsedManifests.store(manifest, for: stored.digest)
        return manifest
    }

    /// The details of several tags with one read of their index children and one of their configs.
    private func details(_ records: [TagRecord], in repository: RepositoryName, withLayers: Bool) async throws -> [TagDetail] {
        let parsed = records.map { Self.parse($0.manifest) }
        let entries = parsed.map { manifest in (manifest?.isIndex == true ? manifest!.manifests : []).filter { !Self.isAttestation($0) } }
        let children = try await registry.stores.catalog.manifestRecords(Array(Set(entries.flatMap { $0.map(\.digest) })), in: repository)
        let found: [[Found]] = zip(records, zip(parsed, entries)).map { record, pair in
            let (manifest, entries) = pair
            guard let manifest else { return [] }
            guard manifest.isIndex else {
                return [Found(manifest: manifest, digest: record.manifest.digest, platform: nil, pushedAt: record.manifest.createdAt,
                              pulledAt: record.manifestPulledAt)]
            }
            return entries.compactMap { entry in
                guard let child = children[entry.digest], let image = Self.parse(child.manifest), !image.isIndex
                else { return nil }
                return Found(manifest: image, digest: entry.digest, platform: entry.platform, pushedAt: child.manifest.createdAt,
                             pulledAt: child.pulledAt)
            }
        }
        let distinctConfigs = Dictionary(found.flatMap { $0.compactMap(\.manifest.config) }.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
        let configs = await ImageConfigReader(registry: registry).summaries(of: Array(distinctConfigs.values))
        return zip(records, found).map { record, images in
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
            return TagDetail(name: record.name, digest: record.manifest.digest, mediaType: record.manifest.mediaType, isImage: isImage,
                             fullSize: main?.size ?? Int64(record.manifest.content.count), pushedAt: record.pushedAt,
                             pushedBy: record.pushedBy, pulledAt: record.pulledAt, images: built)
        }
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
