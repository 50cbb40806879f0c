import Hummingbird
import WharfHub

/// Django-style pagination as Docker Hub's API uses it: `page` (from 1) and `page_size`
/// (larger than `maxSize` is cut to it), answered with `count` and absolute `next`/`previous` URLs.
struct HubPaging: Sendable {
    let page: Int
    let size: Int

    static let maxSize = 100

    var offset: Int { (page - 1) * size }

    /// Reads `page` and `page_size` (named `sizeParameter`) from the query; 400 for values that are not positive integers.
    init(_ request: Request, defaultSize: Int = 10, sizeParameter: String = "page_size") throws {
        let query = request.uri.queryParameters
        page = try Self.positive(query.get("page"), name: "page") ?? 1
        size = min(Self.maxSize, try Self.positive(query.get(sizeParameter), name: sizeParameter) ?? defaultSize)
        // No listing holds this many items: a page this far is past the end (and its offset would overflow).
        guard page <= Self.maxPage else { throw APIError(.notFound, "Invalid page.") }
    }

    /// The highest page number looked up.
    static let maxPage = 1_000_000_000

    private static func positive(_ raw: String?, name: String) throws -> Int? {
        guard let raw else { return nil }
        guard let value = Int(raw), value >= 1 else { throw APIError(.badRequest, "\(name) must be a positive integer") }
        return value
    }

    /// 404 "Invalid page." for a page after the last (page 1 always exists).
    func check(count: Int) throws {
        if page > 1 && offset >= count { throw APIError(.notFound, "Invalid page.") }
    }

    /// `{"count","next","previous","results"}` plus `extra` fields.
    func body(_ request: Request, context: WharfRequestContext, settings: HubSettings, count: Int, results: [HubJSON],
              extra: [String: HubJSON] = [:]) -> HubJSON {
        var fields = extra
        fields["count"] = .int(count)
        fields["results"] = .array(results)
        fields["next"] = offset + size < count ? .string(link(request, context: context, settings: settings, page: page + 1)) : .null
        fields["previous"] = page > 1 ? .string(link(request, context: context, settings: settings, page: page - 1)) : .null
        return .object(fields)
    }

    /// The absolute URL of the same request on another page.
    private func link(_ request: Request, context: WharfRequestContext, settings: HubSettings, page: Int) -> String {
        let scheme = context.forwardedScheme ?? (settings.usesTLS ? "https" : "http")
        let host = request.head.authority ?? "localhost"
        var pairs = (request.uri.query ?? "").split(separator: "&").map(String.init)
            .filter { !$0.isEmpty && $0 != "page" && !$0.hasPrefix("page=") }
        pairs.append("page=\(page)")
        return "\(scheme)://\(host)\(request.uri.path)?\(pairs.joined(separator: "&"))"
    }
}
