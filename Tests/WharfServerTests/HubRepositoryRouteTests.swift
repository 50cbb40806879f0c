import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// The Docker Hub API's sessions and repositories: shapes, pagination, ordering, who sees what, errors.
@Suite("Docker Hub API: sessions and repositories")
struct HubRepositoryRouteTests {
    @Test("login and auth/token give sessions accepted as Bearer and JWT; wrong credentials are 401 {detail}")
    func sessions() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "secret", isPrivate: true, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            let token = try await HubTest.login(client, "alice")
            for scheme in ["JWT", "Bearer"] {
                try await client.execute(uri: "/v2/repositories/alice/secret/", method: .get,
                                         headers: [.authorization: "\(scheme) \(token)"]) { response in
                    #expect(response.status == .ok)
                }
            }
            let access = try await client.execute(uri: "/v2/auth/token", method: .post,
                                                  body: try HubTest.body(["identifier": "alice", "secret": "alice-password"])) { response in
                #expect(response.status == .ok)
                return try #require(HubTest.object(response)["access_token"] as? String)
            }
            try await client.execute(uri: "/v2/repositories/alice/secret", method: .get, headers: [.authorization: "Bearer \(access)"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v2/users/login", method: .post,
                                     body: try HubTest.body(["username": "alice", "password": "wrong-password"])) { response in
                let value = try HubTest.hubError(response, .unauthorized)
                #expect(value == "Incorrect authentication credentials")
            }
            try await client.execute(uri: "/v2/repositories/alice/secret/", method: .get, headers: [.authorization: "JWT not-a-token"]) { response in
                try HubTest.hubError(response, .unauthorized)
            }
            // A registry token is no Hub session.
            let registryToken = try await dependencies.tokens.issue(subject: "alice", access: [])
            try await client.execute(uri: "/v2/repositories/alice/secret/", method: .get,
                                     headers: [.authorization: "Bearer \(registryToken)"]) { response in
                try HubTest.hubError(response, .unauthorized)
            }
        }
    }

    @Test("a session made from a personal access token has its scope and ends when the token is revoked")
    func sessionFromAccessToken() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            let (token, secret) = try await dependencies.hub.tokens.create(name: "ci", scopes: ["repo:read"], by: WharfAuthPrincipal.alice)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "app", isPrivate: false, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            let session = try await HubTest.login(client, "alice", secret: secret)
            let auth: HTTPFields = [.authorization: "JWT \(session)"]
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .patch, headers: auth,
                                     body: try HubTest.body(["description": "read scope cannot"])) { response in
                try HubTest.hubError(response, .forbidden)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get, headers: auth) { response in
                let body = HubTest.object(response)
                #expect(body["can_edit"] as? Bool == false)
                #expect((body["permissions"] as? [String: Bool]) == ["read": true, "write": false, "admin": false])
            }
            try await dependencies.hub.tokens.revoke(token.id, by: WharfAuthPrincipal.alice)
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get, headers: auth) { response in
                try HubTest.hubError(response, .unauthorized)
            }
        }
    }

    @Test("a repository in Docker Hub's shape: every field, integers as integers, times with microseconds and Z")
    func detailShape() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await client.execute(uri: "/v2/repositories/", method: .post, headers: HubTest.basic("alice"),
                                     body: try HubTest.body(["namespace": "alice", "name": "app", "description": "An app",
                                                             "full_description": "# App"])) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get, headers: HubTest.basic("alice")) { response in
                let body = HubTest.object(response)
                let expected: Set<String> = [
                    "user", "name", "namespace", "repository_type", "status", "status_description", "description", "is_private",
                    "is_automated", "can_edit", "star_count", "pull_count", "last_updated", "date_registered", "collaborator_count",
                    "affiliation", "hub_user", "has_starred", "full_description", "permissions", "media_types", "content_types",
                ]
                #expect(Set(body.keys) == expected)
                #expect(body["name"] as? String == "app")
                #expect(body["namespace"] as? String == "alice")
                #expect(body["full_description"] as? String == "# App")
                #expect(body["can_edit"] as? Bool == true)
                #expect(body["affiliation"] is NSNull)
                for field in ["status", "star_count", "pull_count", "collaborator_count"] {
                    #expect(HubTest.isInteger(field, in: response), "\(field) is not an integer")
                }
                #expect(HubTest.isHubTime(body["last_updated"]))
                #expect(HubTest.isHubTime(body["date_registered"]))
            }
            try await client.execute(uri: "/v2/repositories/", method: .post, headers: HubTest.basic("alice"),
                                     body: try HubTest.body(["namespace": "alice", "name": "app"])) { response in
                try HubTest.hubError(response, .conflict)
            }
        }
    }

    @Test("a private repository is 404 to anonymous callers and strangers, the same as a missing one")
    func privateIsNotFound() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "secret", isPrivate: true, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            var bodies: [String] = []
            for (uri, headers) in [("/v2/repositories/alice/secret/", HTTPFields()), ("/v2/repositories/alice/secret/", HubTest.basic("bobby")),
                                   ("/v2/repositories/alice/missing/", HubTest.basic("bobby"))] {
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    try HubTest.hubError(response, .notFound)
                    bodies.append(String(buffer: response.body))
                }
            }
            #expect(Set(bodies).count == 1)
            try await client.execute(uri: "/v2/repositories/alice/secret/", method: .patch, headers: HubTest.basic("bobby"),
                                     body: try HubTest.body(["description": "mine now"])) { response in
                try HubTest.hubError(response, .notFound)
            }
        }
    }

    @Test("PATCH changes the description (at most 100 characters) and README (at most 25,000); a reader may not")
    func patch() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "app", isPrivate: false, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            let token = try await HubTest.login(client, "alice")
            let auth: HTTPFields = [.authorization: "JWT \(token)"]
            let readme = "# App\n\nUse it.\n"
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .patch, headers: auth,
                                     body: try HubTest.body(["description": "Short", "full_description": readme])) { response in
                #expect(response.status == .ok)
                let body = HubTest.object(response)
                #expect(body["description"] as? String == "Short")
                #expect(body["full_description"] as? String == readme)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .patch, headers: auth,
                                     body: try HubTest.body(["description": String(repeating: "x", count: 101)])) { response in
                let value = try HubTest.hubError(response, .badRequest)
                #expect(value.contains("100"))
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .patch, headers: auth,
                                     body: try HubTest.body(["full_description": String(repeating: "x", count: 25_001)])) { response in
                let value = try HubTest.hubError(response, .badRequest)
                #expect(value.contains("25000"))
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .patch, headers: HubTest.basic("bobby"),
                                     body: try HubTest.body(["description": "hijacked"])) { response in
                try HubTest.hubError(response, .forbidden)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get) { response in
                let value = HubTest.object(response)
                #expect(value["description"] as? String == "Short")
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .delete, headers: auth) { response in
                #expect(response.status == .accepted)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get, headers: auth) { response in
                try HubTest.hubError(response, .notFound)
            }
        }
    }

    @Test("listings page Django-style with absolute next and previous links, and hide others' private repositories")
    func listing() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            let alice = WharfAuthPrincipal.alice
            for (name, isPrivate) in [("delta", false), ("alpha", false), ("charlie", true), ("bravo", false)] {
                _ = try await dependencies.hub.repositories.create(namespace: "alice", name: name, isPrivate: isPrivate, description: nil, by: alice)
            }
            for base in ["/v2/repositories/alice/", "/v2/namespaces/alice/repositories"] {
                try await client.execute(uri: "\(base)?ordering=name&page_size=2", method: .get, headers: HubTest.basic("alice")) { response in
                    let body = HubTest.object(response)
                    #expect(body["count"] as? Int == 4)
                    #expect(HubTest.isInteger("count", in: response))
                    #expect(HubTest.results(response).map { $0["name"] as? String } == ["alpha", "bravo"])
                    #expect(body["previous"] is NSNull)
                    let next = try #require(body["next"] as? String)
                    #expect(next.hasPrefix("http://") && next.hasSuffix("ordering=name&page_size=2&page=2"))
                }
            }
            try await client.execute(uri: "/v2/repositories/alice/?ordering=name&page_size=2&page=2", method: .get,
                                     headers: HubTest.basic("alice")) { response in
                let body = HubTest.object(response)
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["charlie", "delta"])
                #expect(body["next"] is NSNull)
                #expect((body["previous"] as? String)?.hasSuffix("page=1") == true)
            }
            for headers in [HTTPFields(), HubTest.basic("bobby")] {
                try await client.execute(uri: "/v2/repositories/alice/?ordering=-name", method: .get, headers: headers) { response in
                    #expect(HubTest.object(response)["count"] as? Int == 3)
                    #expect(HubTest.results(response).map { $0["name"] as? String } == ["delta", "bravo", "alpha"])
                }
            }
            try await client.execute(uri: "/v2/repositories/alice/?page=3&page_size=2", method: .get) { response in
                let value = try HubTest.hubError(response, .notFound)
                #expect(value == "Invalid page.")
            }
            for query in ["page=0", "page=x", "page_size=0", "ordering=size"] {
                try await client.execute(uri: "/v2/repositories/alice/?\(query)", method: .get) { response in
                    try HubTest.hubError(response, .badRequest)
                }
            }
            try await client.execute(uri: "/v2/repositories/alice/?page_size=1000", method: .get) { response in
                let value = HubTest.results(response)
                #expect(value.count == 3)
            }
            try await client.execute(uri: "/v2/repositories/nobody/", method: .get) { response in
                try HubTest.hubError(response, .notFound)
            }
        }
    }

    @Test("Hub paths answer 405 with Allow for another method and 404 in Hub's shape; registry paths stay the registry's")
    func surfaces() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/v2/repositories/root/app/", method: .put) { response in
                try HubTest.hubError(response, .methodNotAllowed)
                #expect(response.headers[.allow] == "DELETE, GET, PATCH")
            }
            try await client.execute(uri: "/v2/repositories/root/app/", method: .options) { response in
                try HubTest.hubError(response, .methodNotAllowed)
                #expect(response.headers[.allow] == "DELETE, GET, PATCH", "the Hub route's methods, not the registry catch-all's")
            }
            try await client.execute(uri: "/v2/repositories/root/?page=9223372036854775806", method: .get) { response in
                try HubTest.hubError(response, .notFound)
            }
            try await client.execute(uri: "/v2/repositories/root/app/extra/path/", method: .get) { response in
                try HubTest.hubError(response, .notFound)
            }
            try await client.pushImage(to: "repositories/root/app", tag: "v1")
            try await client.execute(uri: "/v2/repositories/root/app/tags/list", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"tags\":[\"v1\"]"))
            }
            try await client.execute(uri: "/v2/acme/app/something", method: .get) { response in
                #expect(errorCode(response) == "NOT_FOUND")
            }
        }
    }
}

/// Principals the route tests act as when calling services directly.
enum WharfAuthPrincipal {
    static let alice = Principal(name: "alice", isAdmin: false)
}
