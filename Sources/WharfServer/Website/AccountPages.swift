import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Sign-up, login and logout, the account's settings and its access tokens.
struct AccountPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/signup") { request, context in try await site.page(request, context: context) { visit in signUpForm(visit) } }
        router.post("/signup") { request, context in try await site.submit(request, context: context, signUp) }
        router.get("/login") { request, context in
            try await site.page(request, context: context) { visit in loginForm(visit, next: request.uri.queryParameters.get("next")) }
        }
        router.post("/login") { request, context in try await site.submit(request, context: context) { try await logIn($0, $1, request, context) } }
        router.post("/logout") { request, context in try await site.submit(request, context: context) { visit, _ in try await logOut(request, visit) } }
        router.get("/settings") { request, context in try await site.page(request, context: context) { try await settings($0) } }
        router.post("/settings") { request, context in try await site.submit(request, context: context, saveSettings) }
        router.post("/settings/password") { request, context in try await site.submit(request, context: context, changePassword) }
        router.get("/settings/tokens") { request, context in try await site.page(request, context: context) { try await tokens($0) } }
        router.post("/settings/tokens") { request, context in try await site.submit(request, context: context, createToken) }
        router.post("/settings/tokens/:id/revoke") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                try await hub.tokens.revoke(try context.parameters.require("id"), by: try visit.requirePrincipal())
                return PageRenderer.redirect("/settings/tokens")
            }
        }
    }

    // MARK: Sign-up and login

    func signUpForm(_ visit: Website.Visit, error: String? = nil, values: [String: String] = [:]) -> Response {
        site.renderer.page("signup", title: "Sign up", data: ["error": error as Any, "values": values,
                                                              "enabled": hub.settings.signupEnabled], viewer: visit.viewer,
                           status: error == nil ? .ok : .badRequest)
    }

    func signUp(_ visit: Website.Visit, _ form: WebForm) async throws -> Response {
        let username = form.text("username") ?? "", email = form.text("email") ?? "", password = form["password"] ?? ""
        do {
            _ = try await hub.accounts.signUp(username: username, email: email, password: password, by: visit.principal)
            let (secret, _) = try await site.sessions.logIn(username: username, password: password, clientAddress: nil)
            return PageRenderer.redirect("/u/\(username)", headers: [.setCookie: WebCookies.set(WebCookies.session, secret, secure: visit.secure)])
        } catch let error as HubError where error.kind == .invalid || error.kind == .conflict {
            return signUpForm(visit, error: error.message, values: ["username": username, "email": email])
        }
    }

    func loginForm(_ visit: Website.Visit, next: String?, error: String? = nil, username: String = "",
                   status: HTTPResponse.Status = .ok) -> Response {
        site.renderer.page("login", title: "Log in", data: ["error": error as Any, "username": username,
                                                            "return": WebPaths.localPath(next)],
                           viewer: visit.viewer, status: status)
    }

    func logIn(_ visit: Website.Visit, _ form: WebForm, _ request: Request, _ context: WharfRequestContext) async throws -> Response {
        let username = form.text("username") ?? "", next = WebPaths.localPath(form["next"])
        do {
            let (secret, _) = try await site.sessions.logIn(username: username, password: form["password"] ?? "",
                                                            clientAddress: context.clientAddress)
            // A new session every time (rotation): the one this browser had, if any, ends.
            if let old = WebCookies.value(WebCookies.session, in: request) { try await site.sessions.logOut(secret: old) }
            return PageRenderer.redirect(next, headers: [.setCookie: WebCookies.set(WebCookies.session, secret, secure: visit.secure)])
        } catch Authenticator.Failure.invalidCredentials {
            return loginForm(visit, next: next, error: "Incorrect username or password.", username: username, status: .unauthorized)
        } catch Authenticator.Failure.throttled(let wait) {
            return loginForm(visit, next: next, error: "Too many failed attempts. Try again in \(wait) seconds.", username: username,
                             status: .tooManyRequests)
        }
    }

    func logOut(_ request: Request, _ visit: Website.Visit) async throws -> Response {
        if let secret = WebCookies.value(WebCookies.session, in: request) { try await site.sessions.logOut(secret: secret) }
        return PageRenderer.redirect("/", headers: [.setCookie: WebCookies.clear(WebCookies.session, secure: visit.secure)])
    }

    // MARK: Settings

    func settings(_ visit: Website.Visit, error: String? = nil, notice: String? = nil) async throws -> Response {
        let overview = try await hub.accounts.overview(of: try visit.requirePrincipal())
        let account = overview.account
        let usage = try await hub.storagePolicies.usage(of: account.name, by: visit.principal)
        return site.renderer.page("settings", title: "Settings", data: [
            "storageText": WebViews.storage(usage),
            "email": account.email ?? "", "defaultPrivate": account.defaultPrivate, "error": error as Any, "notice": notice as Any,
            "privateUsed": overview.privateRepositoryCount, "privateLimit": hub.accounts.privateRepoLimit(of: account),
            "organizations": overview.organizations, "general": true,
        ], viewer: visit.viewer, status: error == nil ? .ok : .badRequest)
    }

    func saveSettings(_ visit: Website.Visit, _ form: WebForm) async throws -> Response {
        do {
            _ = try await hub.accounts.updateSettings(email: form.text("email"), password: nil, defaultPrivate: form.checked("default_private"),
                                                      by: try visit.requirePrincipal())
            return try await settings(visit, notice: "Saved.")
        } catch let error as HubError where error.kind == .invalid {
            return try await settings(visit, error: error.message)
        }
    }

    func changePassword(_ visit: Website.Visit, _ form: WebForm) async throws -> Response {
        let new = form["new_password"] ?? ""
        guard new == form["confirm_password"] else { return try await settings(visit, error: "The new passwords do not match.") }
        do {
            _ = try await hub.accounts.changePassword(current: form["current_password"] ?? "", new: new, by: try visit.requirePrincipal())
        } catch let error as HubError where error.kind == .invalid {
            return try await settings(visit, error: error.message)
        }
        // Every session of the account ended with the old password: log in again.
        return PageRenderer.redirect("/login?next=/settings", headers: [.setCookie: WebCookies.clear(WebCookies.session, secure: visit.secure)])
    }

    // MARK: Access tokens

    func tokens(_ visit: Website.Visit, created: (AccessToken, String)? = nil, error: String? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let now = hub.stores.clock.now
        let list = try await hub.tokens.list(by: principal).filter { $0.kind == .personal }.map { token -> [String: Any] in
            ["id": token.id, "name": token.name, "scope": token.scope.rawValue, "active": token.isActive,
             "created": WebViews.time(token.createdAt, now: now) as Any, "used": WebViews.time(token.lastUsedAt, now: now) as Any]
        }
        var data: [String: Any] = ["tokens": list, "error": error as Any, "scopes": TokenScope.allCases.map(\.rawValue), "tokensTab": true,
                                   "request": SecretToken.identifier()]
        if let (token, secret) = created { data["created"] = ["name": token.name, "secret": secret, "scope": token.scope.rawValue] }
        return site.renderer.page("tokens", title: "Access tokens", data: data, viewer: visit.viewer, status: error == nil ? .ok : .badRequest)
    }

    func createToken(_ visit: Website.Visit, _ form: WebForm) async throws -> Response {
        do {
            let created = try await hub.tokens.create(name: form.text("name") ?? "", scopes: [form["scope"] ?? TokenScope.read.rawValue],
                                                      requestID: form["request"], by: try visit.requirePrincipal())
            return try await tokens(visit, created: created)
        } catch let error as HubError where error.kind == .invalid || error.kind == .conflict {
            return try await tokens(visit, error: error.message)
        }
    }
}
