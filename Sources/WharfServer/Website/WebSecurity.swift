import Hummingbird
import WharfAuth
import HTTPTypes

/// The website's defences beyond escaping: security headers on every page, and the checks every
/// state-changing request passes (same-site origin, and the form token of its session).
enum WebSecurity {
    /// Scripts and styles only from this origin (no inline script), no framing, no plugins;
    /// README images may come from anywhere over HTTPS.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func addHeaders(to headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "same-origin"
        headers[.xFrameOptions] = "DENY"
    }

    /// Refuses a request another site made the browser send: `Sec-Fetch-Site: cross-site`, or an
    /// `Origin` that is not this host.
    static func requireSameOrigin(_ request: Request) throws {
        if request.headers[.secFetchSite] == "cross-site" { throw WebError.crossSite }
        if let origin = request.headers[.origin], origin != "null" {
            let host = request.head.authority ?? ""
            guard origin == "http://\(host)" || origin == "https://\(host)" else { throw WebError.crossSite }
        } else if request.headers[.origin] == "null" {
            throw WebError.crossSite
        }
    }

    /// Checks a form's token against the session's (or, before login, against the form cookie).
    static func requireFormToken(_ form: WebForm, expected: String?) throws {
        guard let expected, !expected.isEmpty, let sent = form["csrf"], SecretToken.constantTimeEquals(sent, expected) else {
            throw WebError.badFormToken
        }
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
}
