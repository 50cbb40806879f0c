import Foundation
import Synchronization
import WharfCore
import WharfMetadata

extension Registry {
    /// Validates and stores a manifest pushed to `reference`; returns what was stored.
    public func putManifest(_ bytes: [UInt8], contentType: String?, reference: Reference, in repository: RepositoryName,
                            by actor: String?) async throws -> (stored: StoredManifest, manifest: Manifest) {
        let manifest = try Manifest.parse(bytes, contentType: contentType)
        let digest: Digest
        switch reference {
        case .digest(let expected):
            digest = Digest.of(bytes, algorithm: expected.algorithm)
            guard digest == expected else {
                throw RegistryError(.digestInvalid, "the manifest has digest \(digest), not \(expected)",
                                    detail: ["expected": expected.description, "actual": digest.description])
            }
        case .tag:
            digest = Digest.of(bytes)
        }
        let required = manifest.requiredBlobs
        let linked = try await metadata.linkedBlobs(required, in: repository)
        if let missing = required.first(where: { !linked.contains($0) }) {
            throw RegistryError(.manifestBlobUnknown, "the manifest references a blob the repository does not have",
                                detail: ["digest": missing.description])
        }
        let children = manifest.manifests.map(\.digest)
        let existing = try await metadata.existingManifests(children, in: repository)
        if let missing = children.first(where: { !existing.contains($0) }) {
            throw RegistryError(.manifestChildUnknown, "the index references a manifest the repository does not have; push it first",
                                detail: ["digest": missing.description])
        }
        let stored = StoredManifest(
            digest: digest, mediaType: manifest.mediaType, content: bytes,
            artifactType: manifest.artifactType, subject: manifest.subject?.digest,
            annotations: manifest.annotations, blobReferences: required, manifestReferences: children,
            createdAt: stores.clock.now
        )
        let tag: Tag? = if case .tag(let t) = reference { t } else { nil }
        let now = stored.createdAt
        do {
            try await commit(into: repository, by: actor) { tx in
                if let tag { try await ImmutableTags.checkPush(tag, digest: digest, in: repository, tx: tx) }
                try await tx.metadata.putManifest(stored, tag: tag, in: repository, pushedBy: actor)
                if let tag {
                    try await outbox.publish(HubEvent(kind: .push, repository: repository, actor: actor, tag: tag.value,
                                                        digest: digest, createdAt: now), in: tx)
                }
            }
        } catch StoreError.referenceGone(let kind) {
            // Garbage collection took a blob or child manifest between the checks above and the commit.
            throw kind == "blob"
                ? RegistryError(.manifestBlobUnknown, "a blob the manifest references was garbage collected during the push; push it again")
                : RegistryError(.manifestChildUnknown, "a manifest the index references was garbage collected during the push; push it again")
        }
        // What the hub shows of the image (platform, history), read while the config is at hand.
        if let config = manifest.config { _ = await ImageConfigReader(registry: self).summaries(of: [config]) }
        return (stored, manifest)
    }

    /// The manifest `reference` names, negotiated against the client's `Accept` types. A GET
    /// (`countsAsPull`) is one pull of the repository and of what it names; a HEAD is none.
    public func manifest(_ reference: Reference, in repository: RepositoryName, accepting accept: AcceptedMediaTypes,
                         countsAsPull: Bool = false) async throws -> StoredManifest {
        let served = try await negotiatedManifest(reference, in: repository, accepting: accept)
        if countsAsPull { pulls.record(reference, in: repository, at: stores.clock.now) }
        return served
    }

    private func negotiatedManifest(_ reference: Reference, in repository: RepositoryName, accepting accept: AcceptedMediaTypes) async throws -> StoredManifest {
        let found: StoredManifest? = switch reference {
        case .digest(let digest): try await metadata.manifest(digest, in: repository)
        case .tag(let tag): try await metadata.manifest(taggedWith: tag, in: repository)
        }
        guard let stored = found else { throw RegistryError.manifestUnknown(reference) }
        // A digest names exact bytes: never substitute anything else.
        guard case .tag = reference, !accept.accepts(stored.mediaType) else { return stored }
        if MediaType.indexTypes.contains(stored.mediaType),
           let child = try await defaultPlatformChild(of: stored, in: repository),
           accept.accepts(child.mediaType) {
            return child
        }
        if stored.mediaType == MediaType.dockerManifest { return stored }
        throw RegistryError(.manifestUnknown, "the manifest is a \(stored.mediaType), which the client's Accept header does not allow",
                            detail: ["reference": reference.description])
    }

    /// The linux/amd64 entry of an index, for clients that cannot read indexes.
    private func defaultPlatformChild(of index: StoredManifest, in repository: RepositoryName) async throws -> StoredManifest? {
        guard let parsed = try? Manifest.parse(index.content, contentType: index.mediaType),
              let entry = parsed.manifests.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" })
        else { return nil }
        return try await metadata.manifest(entry.digest, in: repository)
    }

    /// Deletes a tag (by tag) or a manifest and all its tags (by digest), recording the event.
    public func deleteManifest(_ reference: Reference, in repository: RepositoryName, by actor: String?) async throws {
        let now = stores.clock.now
        let found = try await stores.transaction { tx in
            switch reference {
            case .tag(let tag):
                return try await deleteTag(tag, in: repository, by: actor, at: now, tx: tx)
            case .digest(let digest):
                try await ImmutableTags.checkDelete(tags: try await tx.metadata.tags(pointingAt: digest, in: repository), in: repository, tx: tx)
                guard try await tx.metadata.deleteManifest(digest, in: repository) else { return false }
                try await outbox.publish(HubEvent(kind: .manifestDelete, repository: repository, actor: actor,
                                                    digest: digest, createdAt: now), in: tx)
            }
            return true
        }
        guard found else { throw RegistryError.manifestUnknown(reference) }
    }

    /// Deletes a tag unless an immutable tag rule protects it, recording `tag_delete`, in `tx`;
    /// false when there is no such tag.
    func deleteTag(_ tag: Tag, in repository: RepositoryName, by actor: String?, at now: Date, tx: Stores) async throws -> Bool {
        guard let digest = try await tx.metadata.taggedDigest(tag, in: repository) else { return false }
        try await ImmutableTags.checkDelete(tags: [tag.value], in: repository, tx: tx)
        guard try await tx.metadata.deleteTag(tag, in: repository) else { return false }
        try await outbox.publish(HubEvent(kind: .tagDelete, repository: repository, actor: actor, tag: tag.value,
                                          digest: digest, createdAt: now), in: tx)
        return true
    }

    /// The repository's tags.
    public func tagList(in repository: RepositoryName) async throws -> TagList {
        guard try await metadata.repositoryExists(repository) else { throw RegistryError.nameUnknown(repository) }
        return try await metadata.tagList(in: repository)
    }

    /// Manifests of the repository whose subject is `digest`, as descriptors.
    public func referrers(of digest: Digest, in repository: RepositoryName, artifactType: String?) async throws -> [Descriptor] {
        try await metadata.referrers(of: digest, in: repository, artifactType: artifactType).map {
            Descriptor(mediaType: $0.mediaType, digest: $0.digest, size: Int64($0.content.count),
                       annotations: $0.annotations, artifactType: $0.artifactType)
        }
    }
}

/// The manifest media types a client accepts, from its `Accept` headers.
public struct AcceptedMediaTypes: Sendable {
    private let types: Set<String>

    public init(headerValues: [String]) {
        let key = headerValues.joined(separator: ",")
        if let cached = Self.parsed.value(key) {
            types = cached
            return
        }
        types = Set(headerValues.flatMap { $0.split(separator: ",") }.map { MediaType.essence($0) }.filter { !$0.isEmpty })
        Self.parsed.store(types, for: key)
    }

    /// Clients send the same few Accept headers over and over: parse each once.
    private static let parsed = BoundedCache<String, Set<String>>(budget: 256)

    /// Whether `mediaType` may be served. A client that names no manifest type at all
    /// (no Accept, `*/*`, `application/json`) gets what is stored.
    public func accepts(_ mediaType: String) -> Bool {
        types.contains(mediaType) || types.isDisjoint(with: Self.manifestTypes)
    }

    private static let manifestTypes: Set<String> = [
        MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex,
    ]
}
