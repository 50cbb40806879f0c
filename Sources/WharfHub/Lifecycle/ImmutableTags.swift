import WharfCore
import WharfMetadata

/// The immutable tag rule, checked in the transaction of every push and delete: a tag matching
/// one of its repository's patterns may be pushed once (and pushed again with the same
/// manifest), never moved to another manifest nor deleted.
enum ImmutableTags {
    /// The pattern of `repository` that `tag` matches, if any.
    static func rule(for tag: String, in repository: RepositoryName, tx: Stores) async throws -> String? {
        try await tx.policies.immutableTagPatterns(of: repository).first { TagPattern($0)?.matches(tag) == true }
    }

    /// Refuses pointing an existing immutable tag at another manifest.
    static func checkPush(_ tag: Tag, digest: Digest, in repository: RepositoryName, tx: Stores) async throws {
        guard let rule = try await rule(for: tag.value, in: repository, tx: tx),
              let current = try await tx.metadata.taggedDigest(tag, in: repository), current != digest else { return }
        throw RegistryError(.denied, "the tag \(tag.value) is immutable (rule \"\(rule)\" of \(repository.value)): it cannot be overwritten",
                            detail: ["tag": tag.value, "rule": rule])
    }

    /// Refuses deleting immutable tags (a tag, or a manifest some immutable tag points at).
    static func checkDelete(tags: [String], in repository: RepositoryName, tx: Stores) async throws {
        for tag in tags {
            if let rule = try await rule(for: tag, in: repository, tx: tx) {
                throw RegistryError(.denied, "the tag \(tag) is immutable (rule \"\(rule)\" of \(repository.value)): it cannot be deleted",
                                    detail: ["tag": tag, "rule": rule])
            }
        }
    }
}
