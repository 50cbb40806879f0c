import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub

/// The website: server-rendered pages over the hub's services, at Docker Hub's URLs. Every rule
/// is in the services; pages only read forms, call services and render templates.
struct Website: Sendable {
    let hub: Hub
    let sessions: WebSessionService
    let renderer: PageRenderer
    let markdown = MarkdownRenderer()

    /// What a request knows about its browser: the session (if logged in) and the form token.
    struct Visit: Sendable {
        let session: WebSessionService.Session?
        /// The form token of anonymous forms, from the form cookie (nil when the browser has none yet).
        let formCookie: String?
        /// A form cookie to set with the response (the browser had none).
        let newFormCookie: String?
        let path: String
        let secure: Bool

        var principal: Principal? { session?.principal }
        var formToken: String { session?.formToken ?? formCookie ?? newFormCookie ?? "" }
        var viewer: PageRenderer.Viewer { .init(principal: principal, formToken: formToken, path: path) }

        /// The signed-in principal, or a redirect to the login page.
        func requirePrincipal() throws -> Principal {
            guard let principal else { throw WebError.logIn(returningTo: path) }
            return principal
        }
    }

    func visit(_ request: Request, context: WharfRequestContext) async throws -> Visit {
        var session: WebSessionService.Session? = nil
        if let secret = WebCookies.value(WebCookies.session, in: request) { session = try await sessions.resume(secret: secret) }
        let formCookie = WebCookies.value(WebCookies.form, in: request)
        let needsCookie = session == nil && formCookie == nil
        var path = request.uri.path
        if let query = request.uri.query, !query.isEmpty { path += "?" + query }
        return Visit(session: session, formCookie: formCookie, newFormCookie: needsCookie ? SecretToken.generate(prefix: "") : nil,
                     path: path, secure: isSecure(context))
    }

    /// Whether the browser reached us over HTTPS (then cookies are `Secure`).
    func isSecure(_ context: WharfRequestContext) -> Bool {
        context.forwardedScheme.map { $0 == "https" } ?? hub.settings.usesTLS
    }

    /// A page for a GET: `body` builds it; errors become error pages (or a redirect to log in).
    func page(_ request: Request, context: WharfRequestContext,
              _ body: (Visit) async throws -> Response) async throws -> Response {
        let visit = try await visit(request, context: context)
        var response: Response
        do {
            response = try await body(visit)
        } catch {
            response = errorPage(error, visit: visit, context: context)
        }
        if let cookie = visit.newFormCookie { response.headers[.setCookie] = WebCookies.set(WebCookies.form, cookie, secure: visit.secure) }
        return response
    }

    /// A form submission: refused unless it comes from this site with its form token; then `body` acts.
    func submit(_ request: Request, context: WharfRequestContext,
                _ body: (Visit, WebForm) async throws -> Response) async throws -> Response {
        let visit = try await visit(request, context: context)
        do {
            try WebSecurity.requireSameOrigin(request)
            let form = try await WebForm(request)
            try WebSecurity.requireFormToken(form, expected: visit.session?.formToken ?? visit.formCookie)
            return try await body(visit, form)
        } catch {
            return errorPage(error, visit: visit, context: context)
        }
    }

    /// The page for an error a handler threw.
    func errorPage(_ error: any Error, visit: Visit, context: WharfRequestContext) -> Response {
        let webError: WebError
        switch error {
        case let error as WebError:
            webError = error
        case let error as HubError:
            switch error.kind {
            case .notFound: webError = .notFound
            case .unauthenticated: webError = .logIn(returningTo: visit.path)
            case .forbidden, .limitReached: webError = WebError(status: .forbidden, message: error.message)
            case .invalid, .conflict: webError = WebError(status: .badRequest, message: error.message)
            case .unavailable: webError = WebError(status: .serviceUnavailable, message: error.message)
            }
        case Authenticator.Failure.throttled(let wait):
            webError = WebError(status: .tooManyRequests, message: "Too many failed attempts; try again in \(wait) seconds.")
        default:
            context.logger.error("website error", metadata: ["error": "\(String(reflecting: error))"])
            webError = WebError(status: .internalServerError, message: "Something went wrong on our side. Try again in a moment.")
        }
        return renderer.errorPage(webError, viewer: visit.viewer)
    }

    /// The repository `{namespace}/{name}` of the path (not found when it cannot be a name).
    static func repository(_ context: WharfRequestContext, official: Bool = false) throws -> RepositoryName {
        let name = try context.parameters.require("name")
        let raw = official ? "\(RepositoryName.officialNamespace)/\(name)" : "\(try context.parameters.require("namespace"))/\(name)"
        guard let repository = RepositoryName(raw), repository.value == raw else { throw WebError.notFound }
        return repository
    }
}
