import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub

/// What the admin tabs of a repository (Builds, Webhooks) share.
extension Website {
    /// The repository header and navigation of an admin tab, with `tab` current.
    func adminTabHeader(_ name: RepositoryName, principal: Principal, tab: String) async throws -> [String: Any] {
        let detail = try await hub.repositories.detail(name, by: principal)
        var data = WebViews.repository(detail.listed.info, now: hub.stores.clock.now)
        data["full"] = name.value
        data["nav"] = RepositoryNavigation.items(for: name, current: tab, admin: true)
        return data
    }

    /// The numeric `:id` of the path (the not-found page when it is not a number).
    static func numericID(_ context: WharfRequestContext) throws -> Int64 {
        guard let id = Int64(try context.parameters.require("id")) else { throw WebError.notFound }
        return id
    }

    /// The notice a redirect after an action names in `?notice=`.
    static func notice(_ request: Request, from notices: [String: String]) -> String? {
        request.uri.queryParameters.get("notice").flatMap { notices[$0] }
    }
}
