import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// The website's pages: who may see what, sessions and their cookies, form tokens, headers.
@Suite("Website routes")
struct WebsiteRouteTests {
    /// alice with a public `alice/app` (tag v1) and a private `alice/secret`; bobby a stranger.
    static func setUp(_ anonymous: any TestClientProtocol, _ dependencies: WharfDependencies) async throws {
        try await HubTest.user("alice", in: dependencies)
        try await HubTest.user("bobby", in: dependencies)
        let alice = AuthenticatedClient(base: anonymous, username: "alice", password: "alice-password")
        try await HubTagRouteTests.pushImage(alice, to: "alice/app", reference: "v1", arch: "amd64", layers: ["one"])
        _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "secret", isPrivate: true, description: nil,
                                                           by: WharfAuthPrincipal.alice)
    }

    @Test("public pages answer anonymous visitors with security headers; the stylesheet is cached for a year")
    func publicPages() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            for uri in ["/", "/search?q=app", "/login", "/signup", "/u/alice", "/r/alice/app", "/r/alice/app/tags", "/r/alice/app/tags/v1"] {
                let page = try await browser.get(uri)
                #expect(page.status == .ok, "\(uri)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                let policy = try #require(page.headers[.contentSecurityPolicy])
                #expect(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
                #expect(page.headers[.xContentTypeOptions] == "nosniff")
                #expect(page.headers[.referrerPolicy] == "same-origin")
                #expect(!page.html.contains("nil") && !page.html.contains("{{"), "\(uri) leaks template syntax")
            }
            #expect(!(try await browser.get("/r/alice/app/tags")).html.contains("rel=\"next\""), "one page: no next link")
            let home = try await browser.get("/")
            let stylesheet = try #require(home.html.range(of: #"/static/site-[0-9a-f]{12}\.css"#, options: .regularExpression))
            try await client.execute(uri: String(home.html[stylesheet]), method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(response.headers[.contentType] == "text/css; charset=utf-8")
            }
        }
    }

    @Test("storage usage and quota show on the namespace page to its user and administrators, and in settings; not to others")
    func storageUsage() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            _ = try await dependencies.hub.storagePolicies.setQuota(10_000_000, of: "alice", by: WharfAuth.Principal(name: "root", isAdmin: true))
            let alice = WebBrowser(client)
            _ = try await alice.logIn("alice")
            #expect(try await alice.get("/u/alice").html.contains("of 10.0 MB stored"))
            #expect(try await alice.get("/settings").html.contains("of 10.0 MB stored"))
            let bobby = WebBrowser(client)
            _ = try await bobby.logIn("bobby")
            #expect(!(try await bobby.get("/u/alice").html.contains("storage-usage")))
            #expect(!(try await WebBrowser(client).get("/u/alice").html.contains("storage-usage")))
            #expect(try await bobby.get("/settings").html.contains("0 B stored, no quota"))
        }
    }

    @Test("a private repository's pages are the 404 page to anonymous visitors and strangers, the same as a missing one")
    func privateIsNotFound() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let anonymous = WebBrowser(client)
            let missing = try await anonymous.get("/r/alice/missing")
            #expect(missing.status == .notFound)
            for uri in ["/r/alice/secret", "/r/alice/secret/tags", "/r/alice/secret/settings"] {
                let page = try await anonymous.get(uri)
                if uri.hasSuffix("settings") {
                    #expect(page.status == .seeOther, "settings need a login first")
                } else {
                    #expect(page.status == .notFound)
                    // The same page but for the path its "log in" link comes back to.
                    #expect(page.html.replacingOccurrences(of: "next=\(uri)", with: "next=/r/alice/missing")
                        == missing.html)
                }
            }
            let stranger = WebBrowser(client)
            try await stranger.signUp("carol1")
            #expect(try await stranger.get("/r/alice/secret").status == .notFound)
            #expect(try await stranger.get("/r/alice/secret/settings").status == .notFound)
            #expect(try await stranger.get("/r/alice/app/settings").status == .forbidden, "a reader may not open the settings")
            let owner = WebBrowser(client)
            _ = try await owner.logIn("alice")
            #expect(try await owner.get("/r/alice/secret").status == .ok)
            #expect(try await owner.get("/r/alice/secret/settings").status == .ok)
        }
    }

    @Test("pages for signed-in people send others to the login page, which comes back after")
    func loginRequired() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            for uri in ["/settings", "/settings/tokens", "/repositories/create", "/orgs/create", "/r/alice/app/settings"] {
                let page = try await browser.get(uri)
                #expect(page.status == .seeOther)
                #expect(page.headers[.location] == "/login?next=\(uri)")
            }
            let token = try await browser.token(from: "/login")
            let login = try await browser.post("/login", ["csrf": token, "username": "alice", "password": "alice-password", "next": "/settings"])
            #expect(login.headers[.location] == "/settings")
            let outside = try await browser.post("/login", ["csrf": try await browser.token(from: "/login"), "username": "alice", "password": "alice-password",
                                                            "next": "//evil.example/"])
            #expect(outside.headers[.location] == "/", "never back to another site")
        }
    }

    @Test("the session cookie is random, HttpOnly and SameSite=Lax (Secure over TLS), rotated at login and ended by logout")
    func sessionCookie() async throws {
        var registry = TestRegistry()
        registry.settings.usesTLS = true
        try await registry.runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            let login = try await browser.logIn("alice")
            #expect(login.status == .seeOther)
            let cookie = try #require(browser.lastSetCookies.first { $0.hasPrefix("wharf_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure") && cookie.contains("Path=/"))
            let first = try #require(browser.cookies["wharf_session"])
            #expect(first.count > 40)
            _ = try await browser.logIn("alice")
            let second = try #require(browser.cookies["wharf_session"])
            #expect(first != second)
            let stale = WebBrowser(client)
            stale.setCookie("wharf_session", first)
            #expect(try await stale.get("/settings").status == .seeOther, "the session before a new login ends")
            #expect(try await browser.get("/settings").status == .ok)
            let token = try await browser.token(from: "/settings")
            let logout = try await browser.post("/logout", ["csrf": token])
            #expect(logout.status == .seeOther)
            let ended = WebBrowser(client)
            ended.setCookie("wharf_session", second)
            #expect(try await ended.get("/settings").status == .seeOther)
        }
    }

    @Test("wrong passwords are refused and throttled like docker login")
    func loginThrottled() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<7 { statuses.append(try await browser.logIn("alice", password: "wrong-password").status) }
            #expect(statuses.first == .unauthorized)
            #expect(statuses.last == .tooManyRequests)
            #expect(try await browser.logIn("alice", password: SecretToken.personalPrefix + "x").status != .seeOther)
        }
    }

    @Test("a changed password ends every session; an idle session expires")
    func sessionsEnd() async throws {
        let registry = TestRegistry()
        let clock = registry.clock
        try await registry.runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let phone = WebBrowser(client), laptop = WebBrowser(client)
            _ = try await phone.logIn("alice")
            _ = try await laptop.logIn("alice")
            let token = try await laptop.token(from: "/settings")
            let changed = try await laptop.post("/settings/password", ["csrf": token, "current_password": "alice-password",
                                                                       "new_password": "new-alice-password", "confirm_password": "new-alice-password"])
            #expect(changed.status == .seeOther)
            #expect(try await phone.get("/settings").status == .seeOther)
            #expect(try await laptop.get("/settings").status == .seeOther)
            #expect(try await laptop.logIn("alice", password: "new-alice-password").status == .seeOther)
            #expect(try await laptop.get("/settings").status == .ok)
            clock.advance(by: 13 * 3600)
            #expect(try await laptop.get("/settings").status == .seeOther, "idle for longer than 12 hours")
        }
    }

    @Test("forms need their token and this site's origin: a cross-site POST is refused")
    func formTokens() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            _ = try await browser.logIn("bobby")
            let token = try await browser.token(from: "/r/alice/app")
            for (fields, headers) in [
                (["star": "on"], HTTPFields()),
                (["csrf": "forged", "star": "on"], HTTPFields()),
                (["csrf": token, "star": "on"], [.origin: "http://evil.example"] as HTTPFields),
                (["csrf": token, "star": "on"], [.secFetchSite: "cross-site"] as HTTPFields),
            ] {
                let page = try await browser.post("/r/alice/app/star", fields, headers: headers)
                #expect(page.status == .forbidden)
            }
            #expect(try await dependencies.hub.repositories.detail(RepositoryName("alice/app")!, by: nil).listed.info.starCount == 0)
            let starred = try await browser.post("/r/alice/app/star", ["csrf": token], headers: [.secFetchSite: "same-origin"])
            #expect(starred.status == .seeOther)
            #expect(try await dependencies.hub.repositories.detail(RepositoryName("alice/app")!, by: nil).listed.info.starCount == 1)
            // Before login the form token is the form cookie's (double submit).
            let fresh = WebBrowser(client)
            let loginToken = try await fresh.token(from: "/login")
            fresh.forgetCookies()
            let refused = try await fresh.post("/login", ["csrf": loginToken, "username": "alice", "password": "alice-password"])
            #expect(refused.status == .forbidden)
        }
    }

    @Test("organizations: create, teams, members and grants through the organization page")
    func organizations() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let owner = WebBrowser(client)
            _ = try await owner.logIn("alice")
            let token = try await owner.token(from: "/orgs/create")
            #expect(try await owner.post("/orgs/create", ["csrf": token, "name": "acmeorg"]).headers[.location] == "/orgs/acmeorg")
            #expect(try await owner.post("/orgs/acmeorg/teams", ["csrf": token, "team": "devs"]).html.contains("Team devs created."))
            #expect(try await owner.post("/orgs/acmeorg/members", ["csrf": token, "team": "devs", "username": "bobby"]).status == .ok)
            let granted = try await owner.post("/orgs/acmeorg/permissions", ["csrf": token, "team": "devs", "permission": "write", "repository": "tool"])
            #expect(granted.html.contains("devs has the write permission on acmeorg/tool."))
            let lastOwner = try await owner.post("/orgs/acmeorg/members/remove", ["csrf": token, "team": "owners", "username": "alice"])
            #expect(lastOwner.status == .forbidden && lastOwner.html.contains("at least one owner"))
            let member = WebBrowser(client)
            _ = try await member.logIn("bobby")
            let seen = try await member.get("/orgs/acmeorg")
            #expect(seen.status == .ok && !seen.html.contains("Create team"), "members see the organization but may not manage it")
            #expect(try await member.post("/orgs/acmeorg/teams", ["csrf": try await member.token(from: "/settings"), "team": "x"]).status == .forbidden)
            #expect(try await owner.post("/orgs/acmeorg/teams/delete", ["csrf": token, "team": "devs"]).html.contains("Team devs deleted."))
            #expect(try await WebBrowser(client).get("/orgs/acmeorg").status == .seeOther, "anonymous visitors log in first")
        }
    }

    @Test("the README is Markdown with everything that could run removed")
    func readme() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            _ = try await browser.logIn("alice")
            let token = try await browser.token(from: "/r/alice/app/settings")
            let markdown = "# Title\n\n[link](javascript:alert(3)) **bold**\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n"
            let saved = try await browser.post("/r/alice/app/settings/description",
                                               ["csrf": token, "description": "Short", "full_description": markdown])
            #expect(saved.status == .ok)
            let page = try await browser.get("/r/alice/app")
            #expect(page.html.contains("<h1>Title</h1>") && page.html.contains("<strong>bold</strong>"))
            #expect(!page.html.contains("alert("))
            #expect(!page.html.contains("onerror"))
            #expect(!page.html.contains("javascript:"))
        }
    }

    @Test("creating, starring, tags and settings work through their forms")
    func forms() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await Self.setUp(client, dependencies)
            let browser = WebBrowser(client)
            _ = try await browser.logIn("alice")
            var token = try await browser.token(from: "/repositories/create")
            let created = try await browser.post("/repositories/create", ["csrf": token, "namespace": "alice", "name": "newapp",
                                                                          "description": "New", "visibility": "public"])
            #expect(created.headers[.location] == "/r/alice/newapp")
            let taken = try await browser.post("/repositories/create", ["csrf": token, "namespace": "alice", "name": "newapp"])
            #expect(taken.status == .badRequest && taken.html.contains("exists"))
            token = try await browser.token(from: "/r/alice/app/settings")
            let full = try await browser.post("/r/alice/app/settings/visibility", ["csrf": token, "visibility": "private"])
            #expect(full.status == .badRequest && full.html.contains("limit"), "alice/secret already uses the plan's one private repository")
            let deleted = try await browser.post("/r/alice/app/tags/v1/delete", ["csrf": token])
            #expect(deleted.status == .seeOther)
            #expect(try await browser.get("/r/alice/app/tags/v1").status == .notFound)
            let wrongName = try await browser.post("/r/alice/newapp/settings/delete", ["csrf": token, "confirm": "alice/other"])
            #expect(wrongName.status == .badRequest)
            let gone = try await browser.post("/r/alice/newapp/settings/delete", ["csrf": token, "confirm": "alice/newapp"])
            #expect(gone.headers[.location] == "/u/alice")
            #expect(try await browser.get("/r/alice/newapp").status == .notFound)
            let form = try await browser.get("/settings/tokens")
            token = try #require(form.formToken)
            let request = try #require(form.html.range(of: #"name="request" value="[^"]+""#, options: .regularExpression)
                .map { String(form.html[$0].dropFirst(#"name="request" value=""#.count).dropLast()) })
            let fields = ["csrf": token, "name": "ci", "scope": "read", "request": request]
            let tokenPage = try await browser.post("/settings/tokens", fields)
            #expect(tokenPage.html.contains(SecretToken.personalPrefix))
            #expect(!(try await browser.get("/settings/tokens")).html.contains(SecretToken.personalPrefix), "shown once")
            let again = try await browser.post("/settings/tokens", fields)
            #expect(again.status == .badRequest && !again.html.contains(SecretToken.personalPrefix), "a reload creates no second token")
            #expect(try await dependencies.hub.tokens.list(by: WharfAuthPrincipal.alice).filter { $0.kind == .personal }.count == 1)
        }
    }
}
