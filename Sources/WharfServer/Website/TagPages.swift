import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// A repository's tags: the list (sortable, filterable, paged, with delete for those allowed) and
/// one tag's page with the layers of each platform's image.
struct TagPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }
    static let pageSize = 25

    func register(on router: Router<WharfRequestContext>) {
        for (base, official) in [("/r/:namespace/:name", false), ("/_/:name", true)] {
            router.get(RouterPath(base + "/tags")) { request, context in
                try await site.page(request, context: context) { try await list(try Website.repository(context, official: official), request, $0) }
            }
            router.get(RouterPath(base + "/tags/:tag")) { request, context in
                try await site.page(request, context: context) {
                    try await tag(try context.parameters.require("tag"), in: try Website.repository(context, official: official), request, $0)
                }
            }
        }
        router.post("/r/:namespace/:name/tags/:tag/delete") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                let name = try Website.repository(context)
                try await hub.tags.delete(try context.parameters.require("tag"), in: name, by: try visit.requirePrincipal())
                return PageRenderer.redirect("\(WebViews.url(of: name))/tags")
            }
        }
    }

    func list(_ name: RepositoryName, _ request: Request, _ visit: Website.Visit) async throws -> Response {
        let query = request.uri.queryParameters
        let filter = query.get("name") ?? ""
        let ordering = TagOrdering(rawValue: query.get("ordering") ?? "") ?? .newest
        let page = max(1, min(Int(query.get("page") ?? "") ?? 1, 100_000))
        let pageSize = max(1, min(Int(query.get("page_size") ?? "") ?? Self.pageSize, 100))
        let permission = try await hub.access.require(visit.principal, .pull, on: name)
        let tags = try await hub.tags.list(in: name, nameContains: filter.isEmpty ? nil : filter, ordering: ordering,
                                           offset: (page - 1) * pageSize, limit: pageSize, by: visit.principal)
        let now = hub.stores.clock.now
        let base = WebViews.url(of: name)
        let pullName = name.namespace == RepositoryName.officialNamespace ? String(name.shortName) : name.value
        let canDelete = permission >= RepositoryAction.delete.requiredPermission
        let rows = tags.items.map { tag in
            TagTableRows.Row(
                name: tag.name, url: "\(base)/tags/\(tag.name)", digest: tag.digest.description,
                shortDigest: WebViews.shortDigest(tag.digest), platforms: tag.images.compactMap(\.platform).map(Self.platform),
                bytes: tag.fullSize, size: WebViews.size(tag.fullSize),
                pushed: (WebViews.relative(tag.pushedAt, now: now), HubTime.string(tag.pushedAt)), pusher: tag.pushedBy,
                pulled: tag.pulledAt.map { (WebViews.relative($0, now: now), HubTime.string($0)) },
                deleteURL: "/r/\(name.value)/tags/\(tag.name)/delete")
        }
        return site.renderer.page("tags", title: "Tags – \(pullName)", data: [
            "full": pullName, "url": base, "count": tags.count, "filter": filter, "hasFilter": !filter.isEmpty,
            "rows": TagTableRows.html(rows, canDelete: canDelete, formToken: visit.formToken), "hasTags": !rows.isEmpty,
            "canDelete": canDelete,
            "orderings": [("last_updated", "Newest"), ("-last_updated", "Oldest"), ("name", "A–Z"), ("-name", "Z–A")].map {
                ["value": $0.0, "label": $0.1, "selected": $0.0 == ordering.rawValue]
            },
            "pager": WebViews.pager(path: "\(base)/tags", query: ["name": filter, "ordering": ordering.rawValue,
                                                               "page_size": pageSize == Self.pageSize ? "" : String(pageSize)],
                                    page: page, pageSize: pageSize, count: tags.count),
            "nav": RepositoryNavigation.items(for: name, current: "tags", admin: permission >= .admin),
        ], viewer: visit.viewer)
    }

    func tag(_ raw: String, in name: RepositoryName, _ request: Request, _ visit: Website.Visit) async throws -> Response {
        let permission = try await hub.access.require(visit.principal, .pull, on: name)
        let tag = try await hub.tags.show(raw, in: name, by: visit.principal)
        let now = hub.stores.clock.now
        let pullName = name.namespace == RepositoryName.officialNamespace ? String(name.shortName) : name.value
        let images: [[String: Any]] = tag.images.map { image in
            [
                "platform": image.platform.map(Self.platform) ?? "unknown", "digest": image.digest.description,
                "size": WebViews.size(image.size), "bytes": image.size,
                "layers": (image.layers ?? []).enumerated().map { index, layer -> [String: Any] in
                    ["index": index + 1, "instruction": Self.instruction(layer.instruction),
                     "size": layer.digest == nil ? "0 B" : WebViews.size(layer.size), "digest": layer.digest?.description as Any]
                },
            ]
        }
        return site.renderer.page("tag", title: "\(pullName):\(tag.name)", data: [
            "full": pullName, "url": WebViews.url(of: name), "name": tag.name, "digest": tag.digest.description,
            "mediaType": tag.mediaType, "size": WebViews.size(tag.fullSize), "pushed": WebViews.time(tag.pushedAt, now: now) as Any,
            "pusher": tag.pushedBy as Any, "pulled": WebViews.time(tag.pulledAt, now: now) as Any, "images": images,
            "pull": "docker pull \(RepositoryPages.registryHost(request))/\(pullName):\(tag.name)",
            "canDelete": permission >= RepositoryAction.delete.requiredPermission, "deleteUrl": "/r/\(name.value)/tags/\(tag.name)/delete",
            "nav": RepositoryNavigation.items(for: name, current: "tags", admin: permission >= .admin),
        ], viewer: visit.viewer)
    }

    /// A history line as Docker Hub shows it: `ENV A=1` for `/bin/sh -c #(nop)  ENV A=1`, `RUN make` for `/bin/sh -c make`.
    static func instruction(_ raw: String) -> String {
        var text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return "(no history)" }
        if let range = text.range(of: "/bin/sh -c #(nop)") {
            text = String(text[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        } else if text.hasPrefix("/bin/sh -c ") {
            text = "RUN " + text.dropFirst("/bin/sh -c ".count)
        }
        return text
    }

    static func platform(_ platform: Platform) -> String {
        [platform.os, platform.architecture, platform.variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
    }
}
