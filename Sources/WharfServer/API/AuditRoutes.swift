import Foundation
import Hummingbird
import WharfHub
import WharfMetadata

/// `GET /api/audit`: the audit log, filtered and paginated. Who may read which entries is
/// `AuditService`'s rule; this file only speaks JSON.
struct AuditRoutes: Sendable {
    let auth: APIAuthentication
    let audit: AuditService

    func register(on router: Router<WharfRequestContext>) {
        router.get("/api/audit") { request, context in try await self.entries(request, context: context) }
    }

    struct EntryView: Encodable {
        let id: Int64
        let at: Date
        @NullWhenAbsent var actor: String?
        let action: String
        @NullWhenAbsent var namespace: String?
        @NullWhenAbsent var repository: String?
        @NullWhenAbsent var target: String?
        @NullWhenAbsent var client_address: String?
        let details: [String: String]

        init(_ entry: AuditEntry) {
            id = entry.id ?? 0
            at = entry.at
            actor = entry.actor
            action = entry.action
            namespace = entry.namespace
            repository = entry.repository
            target = entry.target
            client_address = entry.clientAddress
            details = entry.details
        }
    }

    struct PageView: Encodable {
        let count: Int
        let page: Int
        let page_size: Int
        @NullWhenAbsent var next: String?
        let results: [EntryView]
    }

    /// `GET /api/audit?actor=&action=&repository=&since=&until=&page=&page_size=`.
    func entries(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        let query = request.uri.queryParameters
        for (name, limit) in [("actor", 200), ("action", 100), ("repository", 256)] where (query.get(name)?.count ?? 0) > limit {
            throw APIError(.badRequest, "\(name) is at most \(limit) characters", field: name)
        }
        let text = { (name: String) -> String? in query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        let filter = AuditFilter(actor: text("actor"), action: text("action"), repository: text("repository"),
                                 since: try query.get("since").map { try Self.time($0, field: "since") },
                                 until: try query.get("until").map { try Self.time($0, field: "until") })
        let page = try text("page").map { try Self.number($0, field: "page") } ?? 1
        guard page <= 1_000_000 else { throw APIError(.badRequest, "page is at most 1000000", field: "page") }
        let pageSize = try text("page_size").map { try Self.number($0, field: "page_size") } ?? 50
        let (entries, total) = try await audit.entries(filter, page: page, pageSize: pageSize, by: caller)
        var next: String?
        if page * pageSize < total {
            var items = URLComponents(string: "/api/audit")!
            items.queryItems = ["actor", "action", "repository", "since", "until"].compactMap { name in
                text(name).map { URLQueryItem(name: name, value: $0) }
            } + [URLQueryItem(name: "page", value: String(page + 1)), URLQueryItem(name: "page_size", value: String(pageSize))]
            next = items.string
        }
        return try APIResponse.json(PageView(count: total, page: page, page_size: pageSize, next: next, results: entries.map { EntryView($0) }))
    }

    /// A time given as RFC 3339 (`2026-12-01T10:00:00Z`, fractions allowed).
    static func time(_ raw: String, field: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: raw) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: raw) { return date }
        throw APIError(.badRequest, "\(field) must be an RFC 3339 time such as 2026-12-01T10:00:00Z", field: field)
    }

    static func number(_ raw: String, field: String) throws -> Int {
        guard let value = Int(raw) else { throw APIError(.badRequest, "\(field) must be a whole number", field: field) }
        return value
    }
}
