import Foundation
import NIOCore
import WharfCore
import WharfMetadata

/// Reads what the hub shows of an image config blob (platform, build history) and remembers it
/// in the catalog, so that tag listings never read blobs twice.
struct ImageConfigReader: Sendable {
    let registry: Registry

    /// The config media types of container images.
    static let imageConfigTypes: Set<String> = [
        "application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json",
    ]
    /// Configs larger than this are not read (real ones are a few KiB).
    static let maxConfigSize: Int64 = 1024 * 1024

    /// The summaries of `configs` (of image manifests), reading and remembering those not yet known.
    func summaries(of configs: [Descriptor]) async -> [Digest: ImageConfigSummary] {
        let wanted = configs.filter { Self.imageConfigTypes.contains($0.mediaType) && $0.size <= Self.maxConfigSize }
        var known = (try? await registry.stores.catalog.imageConfigs(wanted.map(\.digest))) ?? [:]
        for config in wanted where known[config.digest] == nil {
            guard let summary = await read(config) else { continue }
            known[config.digest] = summary
            try? await registry.stores.catalog.saveImageConfig(summary, for: config.digest)
        }
        return known
    }

    private func read(_ config: Descriptor) async -> ImageConfigSummary? {
        var bytes = ByteBuffer()
        do {
            try await registry.blobs.read(config.digest, range: nil) { chunk in
                guard Int64(bytes.readableBytes + chunk.readableBytes) <= Self.maxConfigSize else { throw TooLarge() }
                var chunk = chunk
                bytes.writeBuffer(&chunk)
            }
        } catch {
            return nil
        }
        return Self.parse(Data(buffer: bytes))
    }

    private struct TooLarge: Error {}

    /// The platform and history of an image config's JSON; nil when it is not one.
    static func parse(_ data: Data) -> ImageConfigSummary? {
        struct Config: Decodable {
            struct History: Decodable {
                var created_by: String?
                var empty_layer: Bool?
            }
            var architecture: String?
            var os: String?
            var variant: String?
            var history: [History]?
        }
        guard let config = try? JSONDecoder().decode(Config.self, from: data) else { return nil }
        return ImageConfigSummary(
            os: config.os, architecture: config.architecture, variant: config.variant,
            history: (config.history ?? []).map { .init(createdBy: $0.created_by ?? "", emptyLayer: $0.empty_layer ?? false) }
        )
    }
}
