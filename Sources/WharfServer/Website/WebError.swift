import Foundation
import Hummingbird

/// A page the website answers instead of what was asked: an error page with its status, or a
/// redirect (to the login page, say).
struct WebError: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String
    /// Where to send the browser instead (303), when set.
    var location: String? = nil

    static let crossSite = WebError(status: .forbidden, message: "This request came from another site and was refused.")
    static let badFormToken = WebError(status: .forbidden, message: "This form has expired or did not come from Wharf. Go back, reload the page and try again.")
    static let notFound = WebError(status: .notFound, message: "There is nothing here, or you may not see it.")

    /// Sends the browser to the login page, coming back to `path` afterwards.
    static func logIn(returningTo path: String) -> WebError {
        WebError(status: .seeOther, message: "Log in first.", location: "/login?next=\(WebPaths.encode(path))")
    }
}

/// URL building for the website.
enum WebPaths {
    /// Percent-encodes a query value.
    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A local path to return to after login: only paths on this site (no `//host`, no scheme).
    static func localPath(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), !raw.contains("://") else { return "/" }
        return raw
    }
}
