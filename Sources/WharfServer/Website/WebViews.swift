import Foundation
import WharfCore
import WharfHub
import WharfMetadata

/// Values as pages show them: repositories as template dictionaries, sizes and times for people.
enum WebViews {
    static func repository(_ info: RepositoryInfo, now: Date) -> [String: Any] {
        let official = info.name.namespace == RepositoryName.officialNamespace
        return [
            "full": official ? String(info.name.shortName) : info.name.value,
            "namespace": String(info.name.namespace),
            "name": String(info.name.shortName),
            "url": url(of: info.name),
            "description": info.description,
            "hasDescription": !info.description.isEmpty,
            "private": info.isPrivate,
            "official": official,
            "stars": count(info.starCount),
            "pulls": count(info.pullCount),
            "updated": time(info.updatedAt, now: now),
        ]
    }

    /// The page of a repository: `/_/nginx` for official images, `/r/ns/name` for the others.
    static func url(of name: RepositoryName) -> String {
        name.namespace == RepositoryName.officialNamespace ? "/_/\(name.shortName)" : "/r/\(name.value)"
    }

    /// "1 repository", "3 results".
    static func counted(_ count: Int, _ singular: String, _ plural: String) -> String {
        "\(count) \(count == 1 ? singular : plural)"
    }

    /// `{"text": "5 minutes ago", "iso": "2026-…Z"}`.
    static func time(_ date: Date?, now: Date) -> [String: Any]? {
        guard let date else { return nil }
        return ["text": relative(date, now: now), "iso": HubTime.string(date)]
    }

    static func relative(_ date: Date, now: Date) -> String {
        let seconds = max(0, now.timeIntervalSince(date))
        func ago(_ value: Int, _ unit: String) -> String { "\(value) \(unit)\(value == 1 ? "" : "s") ago" }
        switch seconds {
        case ..<60: return "just now"
        case ..<3600: return ago(Int(seconds / 60), "minute")
        case ..<86_400: return ago(Int(seconds / 3600), "hour")
        case ..<(86_400 * 30): return ago(Int(seconds / 86_400), "day")
        case ..<(86_400 * 365): return ago(Int(seconds / (86_400 * 30)), "month")
        default: return ago(Int(seconds / (86_400 * 365)), "year")
        }
    }

    /// 1234567 → "1.2M".
    static func count(_ value: Int64) -> String {
        switch value {
        case ..<1000: return "\(value)"
        case ..<1_000_000: return String(format: "%.1fK", Double(value) / 1000).replacingOccurrences(of: ".0K", with: "K")
        default: return String(format: "%.1fM", Double(value) / 1_000_000).replacingOccurrences(of: ".0M", with: "M")
        }
    }

    /// Compressed sizes as Docker Hub shows them: 12.3 MB (decimal units).
    /// "1.2 MB of 10.0 GB" (or "1.2 MB, no quota"): a namespace's storage, for those who may see it.
    static func storage(_ usage: NamespaceUsage) -> String {
        guard let quota = usage.quota else { return "\(size(usage.bytes)) stored, no quota" }
        return "\(size(usage.bytes)) of \(size(quota)) stored"
    }

    static func size(_ bytes: Int64) -> String {
        switch bytes {
        case ..<1000: return "\(bytes) B"
        case ..<1_000_000: return String(format: "%.1f kB", Double(bytes) / 1000)
        case ..<1_000_000_000: return String(format: "%.1f MB", Double(bytes) / 1_000_000)
        default: return String(format: "%.2f GB", Double(bytes) / 1_000_000_000)
        }
    }

    /// `sha256:0123456789ab` — the short form of a digest.
    static func shortDigest(_ digest: Digest) -> String {
        "\(digest.algorithm.rawValue):\(digest.encoded.prefix(12))"
    }

    /// Page links: previous/next with the other query values kept.
    static func pager(path: String, query: [String: String], page: Int, pageSize: Int, count: Int) -> [String: Any] {
        func link(_ target: Int) -> String {
            var items = query.filter { $0.key != "page" && !$0.value.isEmpty }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\(WebPaths.encode($0.value))" }
            items.append("page=\(target)")
            return "\(path)?\(items.joined(separator: "&"))"
        }
        let pages = max(1, (count + pageSize - 1) / pageSize)
        var pager: [String: Any] = ["page": page, "pages": pages, "count": count, "multiple": pages > 1]
        if page > 1 { pager["previousPage"] = link(page - 1) }
        if page < pages { pager["nextPage"] = link(page + 1) }
        return pager
    }
}
