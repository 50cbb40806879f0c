import HTTPTypes
import WharfCore

/// A `/v2/…` path, parsed from the right because repository names contain `/`.
enum RegistryPath: Equatable {
    case base
    case catalog
    case tags(RepositoryName)
    case manifest(RepositoryName, reference: String)
    case blob(RepositoryName, digest: String)
    /// `/blobs/uploads/` — start an upload.
    case uploads(RepositoryName)
    case upload(RepositoryName, id: String)
    case referrers(RepositoryName, digest: String)

    /// The route label used in metrics and logs.
    var label: String {
        switch self {
        case .base: "base"
        case .catalog: "catalog"
        case .tags: "tags"
        case .manifest: "manifest"
        case .blob: "blob"
        case .uploads, .upload: "upload"
        case .referrers: "referrers"
        }
    }

    /// The repository and action a request with `method` needs permission for; nil for `/v2/` and the catalog.
    func requirement(_ method: HTTPRequest.Method) -> (RepositoryName, RepositoryAction)? {
        let name: RepositoryName
        switch self {
        case .base, .catalog: return nil
        case .tags(let n), .manifest(let n, _), .blob(let n, _), .uploads(let n), .upload(let n, _), .referrers(let n, _):
            name = n
        }
        switch (method, self) {
        case (.get, .upload), (.delete, .upload): return (name, .push)
        case (.get, _), (.head, _): return (name, .pull)
        case (.delete, _): return (name, .delete)
        default: return (name, .push)
        }
    }

    /// Parses `path`; nil when it is not a registry endpoint, `NAME_INVALID` when the name is bad.
    static func parse(_ path: some StringProtocol) throws(RegistryError) -> RegistryPath? {
        guard path.hasPrefix("/v2") else { return nil }
        let rest = path.dropFirst(3)
        if rest.isEmpty || rest == "/" { return .base }
        guard rest.first == "/" else { return nil }
        let parts = rest.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if parts == ["_catalog"] { return .catalog }
        let n = parts.count
        guard n >= 3 else { return nil }

        func name(_ count: Int) throws(RegistryError) -> RepositoryName {
            let raw = parts[..<count].joined(separator: "/")
            guard count > 0, let name = RepositoryName(raw) else { throw RegistryError.invalidName(raw) }
            return name
        }

        let last = parts[n - 1], previous = parts[n - 2]
        if n >= 4, parts[n - 3] == "blobs", previous == "uploads" {
            return last.isEmpty ? .uploads(try name(n - 3)) : .upload(try name(n - 3), id: String(last))
        }
        if previous == "blobs", last == "uploads" { return .uploads(try name(n - 2)) }
        guard !last.isEmpty else { return nil }
        switch previous {
        case "manifests": return .manifest(try name(n - 2), reference: String(last))
        case "blobs": return .blob(try name(n - 2), digest: String(last))
        case "referrers": return .referrers(try name(n - 2), digest: String(last))
        case "tags" where last == "list": return .tags(try name(n - 2))
        default: return nil
        }
    }
}
