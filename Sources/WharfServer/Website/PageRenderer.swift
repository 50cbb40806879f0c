import Foundation
import Hummingbird
import Mustache
import WharfAuth

/// Renders the website's pages from the Mustache templates in `Website/Templates` (compiled into
/// the binary), inside one layout. Every `{{value}}` is HTML-escaped; the only unescaped value is
/// a README already passed through `HTMLSanitizer`.
struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let assets: StaticAssets

    /// The renderer over the compiled-in templates (which `WebTemplateTests` parse, so a broken one never ships).
    init(assets: StaticAssets) {
        var library = MustacheLibrary()
        for (name, text) in WebTemplates.all {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("the template \(name) does not parse: \(error)")
            }
        }
        self.library = library
        self.assets = assets
    }

    /// Who is looking at a page, and the token their forms carry.
    struct Viewer: Sendable {
        let principal: Principal?
        let formToken: String
        /// The page's path, for "log in" links that come back.
        let path: String
    }

    /// A page: `template` rendered with `data` plus what the layout needs.
    func page(_ template: String, title: String, data: [String: Any] = [:], viewer: Viewer,
              status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var context = data
        context["title"] = title
        context["assets"] = ["css": assets.stylesheetPath, "js": assets.scriptPath]
        context["csrf"] = viewer.formToken
        context["loginReturn"] = WebPaths.encode(viewer.path)
        if let principal = viewer.principal { context["viewer"] = ["name": principal.name, "admin": principal.isAdmin] }
        let html = library.render(Self.compact(context) ?? [:], withTemplate: template) ?? "template \(template) is missing"
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        WebSecurity.addHeaders(to: &headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// `value` without the optionals Mustache would render as "nil" (and count as present):
    /// nil values are dropped from dictionaries and arrays, others unwrapped.
    static func compact(_ value: Any) -> Any? {
        switch value {
        case let dictionary as [String: Any]: return dictionary.compactMapValues(compact)
        case let array as [Any]: return array.compactMap(compact)
        case is String, is Bool, is Int, is Int64: return value
        default:
            let mirror = Mirror(reflecting: value)
            guard mirror.displayStyle == .optional else { return value }
            return mirror.children.first.flatMap { compact($0.value) }
        }
    }

    /// The error page for `error`.
    func errorPage(_ error: WebError, viewer: Viewer) -> Response {
        if let location = error.location { return Self.redirect(location) }
        let title = error.status == .notFound ? "Not found" : error.status == .forbidden ? "Not allowed" : "Something went wrong"
        return page("error", title: title, data: ["status": Int(error.status.code), "message": error.message], viewer: viewer,
                    status: error.status)
    }

    /// 303 to `location` (after a form, or to the login page).
    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.location] = location
        headers[.contentLength] = "0"
        headers[.cacheControl] = "no-store"
        WebSecurity.addHeaders(to: &headers)
        return Response(status: .seeOther, headers: headers)
    }
}
