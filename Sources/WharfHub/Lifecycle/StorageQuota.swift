import WharfCore
import WharfMetadata

/// The namespace storage quota, checked in the transaction that links a blob: a blob the
/// namespace does not link yet must fit in what is left. On PostgreSQL the quota's row is locked
/// first, so concurrent pushes into one namespace are admitted one after the other and usage
/// never overshoots.
enum StorageQuota {
    /// Throws `DENIED` "quota exceeded" unless linking `digest` (`size` bytes) into `repository` fits.
    static func admit(_ digest: Digest, size: Int64, into repository: RepositoryName, tx: Stores) async throws {
        let namespace = String(repository.namespace)
        guard let quota = try await tx.policies.quota(of: namespace, lock: true),
              try await !tx.policies.namespace(namespace, links: digest) else { return }
        let usage = try await tx.policies.usage(of: namespace)
        guard usage + size <= quota else {
            throw exceeded(namespace, usage: usage, quota: quota, needed: size)
        }
    }

    /// Throws `DENIED` when the namespace has used its whole quota already (checked when an upload starts).
    static func checkRoomLeft(in repository: RepositoryName, stores: Stores) async throws {
        let namespace = String(repository.namespace)
        guard let quota = try await stores.policies.quota(of: namespace, lock: false) else { return }
        let usage = try await stores.policies.usage(of: namespace)
        if usage >= quota { throw exceeded(namespace, usage: usage, quota: quota, needed: nil) }
    }

    private static func exceeded(_ namespace: String, usage: Int64, quota: Int64, needed: Int64?) -> RegistryError {
        var message = "quota exceeded: \(namespace) uses \(usage) of its \(quota) bytes"
        if let needed { message += "; this blob needs \(needed) more" }
        var detail = ["namespace": namespace, "usage": String(usage), "quota": String(quota)]
        if let needed { detail["size"] = String(needed) }
        return RegistryError(.denied, message, detail: detail)
    }
}
