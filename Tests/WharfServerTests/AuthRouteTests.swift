import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// Token authentication as docker does it, and the API that manages accounts.
@Suite("Token authentication and account API")
struct AuthRouteTests {
    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    func signUp(_ client: any TestClientProtocol, _ name: String) async throws {
        try await client.execute(uri: "/api/users", method: .post,
                                 body: ByteBuffer(string: #"{"username":"\#(name)","email":"\#(name)@example.com","password":"\#(name)-password"}"#)) { response in
            #expect(response.status == .created)
        }
    }

    func token(_ client: any TestClientProtocol, user: String?, scope: String) async throws -> String {
        var headers: HTTPFields = [:]
        if let user { headers[.authorization] = Self.basic(user, "\(user)-password") }
        let escaped = scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return try await client.execute(uri: "/token?service=wharf&scope=\(escaped)", method: .get, headers: headers) { response in
            #expect(response.status == .ok)
            struct Body: Decodable { let token: String; let access_token: String; let expires_in: Int }
            let body = try JSONDecoder().decode(Body.self, from: Data(buffer: response.body))
            #expect(body.token == body.access_token)
            #expect(body.expires_in == 300)
            return body.token
        }
    }

    @Test("a registry token stops working once its lifetime and the clock-skew leeway have passed")
    func tokenExpiry() async throws {
        let registry = TestRegistry()
        try await registry.runWithDependencies { client, _ in
            try await signUp(client, "alice")
            let token = try await token(client, user: "alice", scope: "repository:alice/app:pull,push")
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: bearer) { #expect($0.status == .accepted) }
            registry.clock.advance(by: 300 + TokenService.leeway - 1)
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: bearer) { #expect($0.status == .accepted) }
            registry.clock.advance(by: 2)
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: bearer) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
            }
        }
    }

    @Test("anonymous /v2/ gets a Bearer challenge pointing at /token")
    func challenge() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await client.execute(uri: "/v2/", method: .get) { response in
                #expect(response.status == .unauthorized)
                let header = response.headers[.wwwAuthenticate] ?? ""
                #expect(header.hasPrefix("Bearer realm=\"http://"))
                #expect(header.contains("/token\",service=\"wharf\""))
                #expect(errorCode(response) == "UNAUTHORIZED")
            }
        }
    }

    @Test("a token grants only what the policy allows, and /v2 honours exactly that")
    func tokenFlow() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            try await signUp(client, "bobby")
            let alice = try await token(client, user: "alice", scope: "repository:alice/app:pull,push")
            let bearer: HTTPFields = [.authorization: "Bearer \(alice)"]
            try await client.execute(uri: "/v2/", method: .get, headers: bearer) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: bearer) { #expect($0.status == .accepted) }
            // Bob's token for alice's namespace carries no push: he is denied with 403.
            let bob = try await token(client, user: "bobby", scope: "repository:alice/app:pull,push")
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: [.authorization: "Bearer \(bob)"]) { response in
                #expect(response.status == .forbidden)
                #expect(errorCode(response) == "DENIED")
            }
            // Anonymous tokens are 401 with a scoped challenge.
            let anonymous = try await token(client, user: nil, scope: "repository:alice/app:pull,push")
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: [.authorization: "Bearer \(anonymous)"]) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.contains("scope=\"repository:alice/app:pull,push\"") == true)
            }
            // A token for another repository is not enough, but the owner is told to fetch a better one.
            try await client.execute(uri: "/v2/alice/other/blobs/uploads/", method: .post, headers: bearer) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)
            }
            try await client.execute(uri: "/v2/", method: .get, headers: [.authorization: "Bearer not.a.token"]) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            }
        }
    }

    @Test("wrong passwords are 401 and repeated ones are throttled with Retry-After")
    func throttling() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            for _ in 0..<4 {
                try await client.execute(uri: "/token?service=wharf", method: .get, headers: [.authorization: Self.basic("alice", "wrong-password")]) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("incorrect username or password"))
                }
            }
            try await client.execute(uri: "/token?service=wharf", method: .get, headers: [.authorization: Self.basic("alice", "wrong-password")]) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] != nil)
                #expect(errorCode(response) == "TOOMANYREQUESTS")
            }
            // Even the right password waits for the lockout to pass.
            try await client.execute(uri: "/token?service=wharf", method: .get, headers: [.authorization: Self.basic("alice", "alice-password")]) { response in
                #expect(response.status == .tooManyRequests)
            }
        }
    }

    @Test("a read-scoped access token can pull but not push, and works as a password for /token")
    func personalAccessTokens() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            let alice: HTTPFields = [.authorization: Self.basic("alice", "alice-password")]
            struct Created: Decodable { let id: String; let token: String; let scopes: [String] }
            let created = try await client.execute(uri: "/api/tokens", method: .post, headers: alice,
                                                   body: ByteBuffer(string: #"{"name":"ci","scopes":["read"]}"#)) { response in
                #expect(response.status == .created)
                return try JSONDecoder().decode(Created.self, from: Data(buffer: response.body))
            }
            #expect(created.token.hasPrefix("wharf_pat_"))
            let pat: HTTPFields = [.authorization: Self.basic("alice", created.token)]
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: pat) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v2/alice/app/blobs/uploads/", method: .post, headers: alice) { #expect($0.status == .accepted) }
            try await client.execute(uri: "/v2/alice/app/tags/list", method: .get, headers: pat) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/tokens", method: .get, headers: alice) { response in
                #expect(String(buffer: response.body).contains("\"ci\""))
                #expect(!String(buffer: response.body).contains(created.token))
            }
            try await client.execute(uri: "/api/tokens/\(created.id)", method: .delete, headers: alice) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v2/alice/app/tags/list", method: .get, headers: pat) { #expect($0.status == .unauthorized) }
        }
    }

    @Test("refresh tokens from offline_token work with the OAuth2 POST grant")
    func refreshTokens() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            struct Body: Decodable { let token: String; let refresh_token: String? }
            let refresh = try await client.execute(uri: "/token?service=wharf&offline_token=true&client_id=docker", method: .get,
                                                   headers: [.authorization: Self.basic("alice", "alice-password")]) { response in
                #expect(response.status == .ok)
                return try #require(try JSONDecoder().decode(Body.self, from: Data(buffer: response.body)).refresh_token)
            }
            let form = "grant_type=refresh_token&refresh_token=\(refresh)&service=wharf&client_id=docker&scope=repository%3Aalice%2Fapp%3Apush"
            try await client.execute(uri: "/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: form)) { response in
                #expect(response.status == .ok)
            }
            let bad = "grant_type=refresh_token&refresh_token=wharf_rt_nope&service=wharf&client_id=docker"
            try await client.execute(uri: "/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: bad)) { #expect($0.status == .unauthorized) }
            let password = "grant_type=password&username=alice&password=alice-password&service=wharf&client_id=x&access_type=offline"
            let issued = try await client.execute(uri: "/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                  body: ByteBuffer(string: password)) { response in
                try JSONDecoder().decode(Body.self, from: Data(buffer: response.body))
            }
            #expect(issued.refresh_token != nil)
        }
    }

    @Test("private repositories are invisible to outsiders and count against the plan")
    func privateRepositories() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            try await signUp(client, "bobby")
            let alice: HTTPFields = [.authorization: Self.basic("alice", "alice-password")]
            let bob: HTTPFields = [.authorization: Self.basic("bobby", "bobby-password")]
            for name in ["one", "two"] {
                try await AuthenticatedClient(base: client, username: "alice", password: "alice-password").pushBlob(Array(name.utf8), to: "alice/\(name)")
            }
            try await client.execute(uri: "/api/repositories/alice/one", method: .patch, headers: alice,
                                     body: ByteBuffer(string: #"{"is_private":true}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/repositories/alice/two", method: .patch, headers: alice,
                                     body: ByteBuffer(string: #"{"is_private":true}"#)) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("allows 1 private repository"))
            }
            // Outsiders: same answers as for a repository that does not exist.
            for uri in ["/v2/alice/one/tags/list", "/v2/alice/missing/tags/list"] {
                try await client.execute(uri: uri, method: .get, headers: bob) { response in
                    #expect(response.status == .forbidden)
                    #expect(String(buffer: response.body) == #"{"errors":[{"code":"DENIED","detail":{"name":"\#(uri.dropFirst(4).dropLast(10))"},"message":"requested access to the resource is denied"}]}"#)
                }
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .unauthorized) }
            }
            for uri in ["/api/repositories/alice/one", "/api/repositories/alice/missing"] {
                try await client.execute(uri: uri, method: .get, headers: bob) { #expect($0.status == .notFound) }
            }
            try await client.execute(uri: "/v2/_catalog", method: .get, headers: bob) { response in
                #expect(String(buffer: response.body) == #"{"repositories":["alice/two"]}"#)
            }
            try await client.execute(uri: "/v2/_catalog", method: .get, headers: alice) { response in
                #expect(String(buffer: response.body) == #"{"repositories":["alice/one","alice/two"]}"#)
            }
            // As a collaborator bob can read it.
            try await client.execute(uri: "/api/repositories/alice/one/collaborators/bobby", method: .put, headers: alice,
                                     body: ByteBuffer(string: #"{"permission":"read"}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/alice/one/tags/list", method: .get, headers: bob) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/alice/one/blobs/uploads/", method: .post, headers: bob) { #expect($0.status == .forbidden) }
        }
    }

    @Test("a namespace that defaults to private refuses a new repository beyond the plan on push")
    func planLimitOnPush() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            try await signUp(client, "alice")
            let alice: HTTPFields = [.authorization: Self.basic("alice", "alice-password")]
            try await client.execute(uri: "/api/user", method: .patch, headers: alice, body: ByteBuffer(string: #"{"default_private":true}"#)) { #expect($0.status == .ok) }
            let authed = AuthenticatedClient(base: client, username: "alice", password: "alice-password")
            try await authed.pushBlob(Array("first".utf8), to: "alice/first")
            try await client.execute(uri: "/v2/alice/second/blobs/uploads/", method: .post, headers: alice) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("allows 1 private repository"))
            }
            try await client.execute(uri: "/api/admin/users/alice", method: .put,
                                     headers: [.authorization: Self.basic(TestRegistry.adminName, TestRegistry.adminPassword)],
                                     body: ByteBuffer(string: #"{"private_repo_limit":2}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/alice/second/blobs/uploads/", method: .post, headers: alice) { #expect($0.status == .accepted) }
        }
    }

    @Test("organization owners grant teams permissions on the organization's repositories")
    func organizations() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            for name in ["owner", "carol", "dave"] { try await signUp(client, name) }
            let owner: HTTPFields = [.authorization: Self.basic("owner", "owner-password")]
            let carol: HTTPFields = [.authorization: Self.basic("carol", "carol-password")]
            try await client.execute(uri: "/api/orgs", method: .post, headers: owner, body: ByteBuffer(string: #"{"name":"acmeorg"}"#)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/api/orgs/acmeorg/teams", method: .post, headers: owner, body: ByteBuffer(string: #"{"name":"devs"}"#)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/api/orgs/acmeorg/teams/devs/members/carol", method: .put, headers: owner) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/acmeorg/tool/blobs/uploads/", method: .post, headers: carol) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/orgs/acmeorg/teams/devs/repositories/tool", method: .put, headers: owner,
                                     body: ByteBuffer(string: #"{"permission":"write"}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/acmeorg/tool/blobs/uploads/", method: .post, headers: carol) { #expect($0.status == .accepted) }
            // Members who are not owners cannot manage teams; outsiders do not even see the organization.
            try await client.execute(uri: "/api/orgs/acmeorg/teams", method: .post, headers: carol, body: ByteBuffer(string: #"{"name":"x"}"#)) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/orgs/acmeorg/teams", method: .get,
                                     headers: [.authorization: Self.basic("dave", "dave-password")]) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/orgs/acmeorg/teams/owners/members/owner", method: .delete, headers: owner) {
                #expect($0.status == .forbidden)
            }
        }
    }

    @Test("sign-up validates each field and can be turned off")
    func signUpValidation() async throws {
        try await TestRegistry().runWithDependencies { client, _ in
            let cases: [(String, String)] = [
                (#"{"username":"ab","email":"a@b.io","password":"password1"}"#, "username"),
                (#"{"username":"library","email":"a@b.io","password":"password1"}"#, "username"),
                (#"{"username":"Alice","email":"a@b.io","password":"password1"}"#, "username"),
                (#"{"username":"alice","email":"nope","password":"password1"}"#, "email"),
                (#"{"username":"alice","email":"a@b.io","password":"short"}"#, "password"),
                (#"{"username":"alice","email":"a@b.io"}"#, "password"),
            ]
            for (body, field) in cases {
                try await client.execute(uri: "/api/users", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(String(buffer: response.body).contains("\"field\":\"\(field)\""))
                }
            }
            try await client.execute(uri: "/api/users", method: .post, body: ByteBuffer(string: "{not json")) { #expect($0.status == .badRequest) }
            try await signUp(client, "alice")
            try await client.execute(uri: "/api/users", method: .post,
                                     body: ByteBuffer(string: #"{"username":"alice","email":"a@b.io","password":"password1"}"#)) { #expect($0.status == .conflict) }
        }
        var closed = TestRegistry()
        closed.settings.signupEnabled = false
        try await closed.runWithDependencies { client, _ in
            try await client.execute(uri: "/api/users", method: .post,
                                     body: ByteBuffer(string: #"{"username":"alice","email":"a@b.io","password":"password1"}"#)) { #expect($0.status == .forbidden) }
        }
    }
}
