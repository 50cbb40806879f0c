import Foundation
import Hummingbird

/// A submitted `application/x-www-form-urlencoded` form.
struct WebForm: Sendable {
    let fields: [String: String]

    /// Reads the request's form body (at most 1 MiB: a README fits).
    init(_ request: Request) async throws {
        let body = try await request.body.collect(upTo: 1024 * 1024)
        fields = TokenRoutes.formFields(String(buffer: body))
    }

    init(fields: [String: String]) { self.fields = fields }

    subscript(_ name: String) -> String? { fields[name] }

    /// The field's text, trimmed; nil when missing or empty.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// A checkbox: present means on.
    func checked(_ name: String) -> Bool { fields[name] != nil }
}

/// Cookies of a request, and the `Set-Cookie` values the website sends.
enum WebCookies {
    /// The session's secret.
    static let session = "wharf_session"
    /// The token anonymous forms (log in, sign up) carry back (double-submit).
    static let form = "wharf_form"

    /// The value of cookie `name` in the request.
    static func value(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// `Set-Cookie` for `name`: HttpOnly, SameSite=Lax, `Secure` over TLS; a session cookie (no Max-Age) unless given.
    static func set(_ name: String, _ value: String, secure: Bool, maxAge: Int? = nil) -> String {
        var cookie = "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if secure { cookie += "; Secure" }
        return cookie
    }

    /// `Set-Cookie` that deletes `name`.
    static func clear(_ name: String, secure: Bool) -> String {
        set(name, "", secure: secure, maxAge: 0)
    }
}
