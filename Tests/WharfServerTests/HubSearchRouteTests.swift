import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfAuth
import WharfCore
@testable import WharfServer

/// `docker search`'s `/v1/search`, stars, and personal access tokens in Docker Hub's shape.
@Suite("Docker Hub API: search, stars, access tokens")
struct HubSearchRouteTests {
    @Test("search matches words of names and descriptions, ranks exact names, official images, then stars; shows only what the caller may read")
    func search() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            let repositories = dependencies.hub.repositories
            let alice = WharfAuthPrincipal.alice
            _ = try await repositories.create(namespace: "alice", name: "nginx-proxy", isPrivate: false, description: "A proxy", by: alice)
            _ = try await repositories.create(namespace: "alice", name: "webcache", isPrivate: false, description: "Caches nginx output", by: alice)
            _ = try await repositories.create(namespace: "alice", name: "nginx-secret", isPrivate: true, description: nil, by: alice)
            _ = try await repositories.create(namespace: "library", name: "nginx", isPrivate: false, description: "Official nginx",
                                              by: Principal(name: TestRegistry.adminName, isAdmin: true))
            _ = try await repositories.create(namespace: "alice", name: "unrelated", isPrivate: false, description: "other", by: alice)
            _ = try await repositories.star(RepositoryName("alice/webcache")!, by: Principal(name: "bobby", isAdmin: false))
            try await client.execute(uri: "/v1/search?q=nginx", method: .get) { response in
                #expect(response.status == .ok)
                let body = HubTest.object(response)
                #expect(body["num_results"] as? Int == 3)
                #expect(body["query"] as? String == "nginx")
                #expect(body["page_size"] as? Int == 25)
                let results = try #require(body["results"] as? [[String: Any]])
                #expect(results.map { $0["name"] as? String } == ["nginx", "alice/webcache", "alice/nginx-proxy"])
                #expect(results.first?["is_official"] as? Bool == true)
                #expect(results[1]["star_count"] as? Int == 1)
                #expect(results[1]["description"] as? String == "Caches nginx output")
                #expect(HubTest.isInteger("star_count", in: response))
            }
            try await client.execute(uri: "/v1/search?q=nginx", method: .get, headers: HubTest.basic("bobby")) { response in
                #expect(HubTest.object(response)["num_results"] as? Int == 3)
            }
            try await client.execute(uri: "/v1/search?q=nginx%20secret", method: .get, headers: HubTest.basic("alice")) { response in
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["alice/nginx-secret"])
            }
            // docker search presents the registry token it fetched for registry:catalog:search.
            let token = try await dependencies.tokens.issue(subject: "alice", access: [.init(type: "registry", name: "catalog", actions: ["search"])])
            try await client.execute(uri: "/v1/search?q=ngin&n=2", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                let body = HubTest.object(response)
                #expect(body["num_results"] as? Int == 4)
                #expect(body["num_pages"] as? Int == 2)
                #expect(HubTest.results(response).count == 2)
            }
            for query in ["q=nginx&n=0", "q=nginx&n=101", "q=", "n=5"] {
                try await client.execute(uri: "/v1/search?\(query)", method: .get) { response in
                    try HubTest.hubError(response, .badRequest)
                }
            }
            try await client.execute(uri: "/v1/_ping", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("stars: idempotent, counted in every view, listed per user; only on what the caller may read")
    func stars() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            try await HubTest.user("bobby", in: dependencies)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "app", isPrivate: false, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            _ = try await dependencies.hub.repositories.create(namespace: "alice", name: "secret", isPrivate: true, description: nil,
                                                               by: WharfAuthPrincipal.alice)
            for _ in 0..<2 {
                try await client.execute(uri: "/api/repositories/alice/app/star", method: .put, headers: HubTest.basic("bobby")) { response in
                    #expect(response.status == .ok)
                    #expect(HubTest.object(response)["star_count"] as? Int == 1)
                }
            }
            try await client.execute(uri: "/api/repositories/alice/secret/star", method: .put, headers: HubTest.basic("bobby")) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/repositories/alice/secret/star", method: .put, headers: HubTest.basic("alice")) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/repositories/alice/app/star", method: .put) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v2/repositories/alice/app/", method: .get, headers: HubTest.basic("bobby")) { response in
                let body = HubTest.object(response)
                #expect(body["star_count"] as? Int == 1)
                #expect(body["has_starred"] as? Bool == true)
            }
            try await client.execute(uri: "/api/repositories/alice/app", method: .get) { response in
                #expect(HubTest.object(response)["star_count"] as? Int == 1)
            }
            try await client.execute(uri: "/api/users/bobby/starred", method: .get) { response in
                let list = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]])
                #expect(list.map { $0["full_name"] as? String } == ["alice/app"])
            }
            try await client.execute(uri: "/api/users/alice/starred", method: .get, headers: HubTest.basic("bobby")) { response in
                #expect(String(buffer: response.body) == "[]", "alice's star on her private repository is hidden from others")
            }
            try await client.execute(uri: "/api/repositories/alice/app/star", method: .delete, headers: HubTest.basic("bobby")) { response in
                #expect(HubTest.object(response)["star_count"] as? Int == 0)
            }
            try await client.execute(uri: "/v2/repositories/alice/?ordering=-star_count", method: .get, headers: HubTest.basic("alice")) { response in
                #expect(HubTest.results(response).map { $0["name"] as? String } == ["secret", "app"])
            }
        }
    }

    @Test("access tokens in Hub's shape: shown once, listed with active_count, deactivated and revoked; a token cannot manage tokens")
    func accessTokens() async throws {
        try await TestRegistry().runWithDependencies { client, dependencies in
            try await HubTest.user("alice", in: dependencies)
            let created = try await client.execute(uri: "/v2/access-tokens", method: .post, headers: HubTest.basic("alice"),
                                                   body: try HubTest.body(["token_label": "ci", "scopes": ["repo:read"]])) { response in
                #expect(response.status == .created)
                return HubTest.object(response)
            }
            let uuid = try #require(created["uuid"] as? String)
            let secret = try #require(created["token"] as? String)
            #expect(secret.hasPrefix("wharf_pat_"))
            #expect(created["scopes"] as? [String] == ["repo:read"])
            #expect(created["is_active"] as? Bool == true)
            let tokenAuth: HTTPFields = [.authorization: "Basic " + Data("alice:\(secret)".utf8).base64EncodedString()]
            try await client.execute(uri: "/v2/access-tokens", method: .get, headers: tokenAuth) { response in
                try HubTest.hubError(response, .forbidden)
            }
            try await client.execute(uri: "/v2/access-tokens", method: .get, headers: HubTest.basic("alice")) { response in
                let body = HubTest.object(response)
                #expect(body["count"] as? Int == 1)
                #expect(body["active_count"] as? Int == 1)
                #expect(HubTest.results(response).first?["token"] as? String == "")
            }
            try await client.execute(uri: "/v2/access-tokens/\(uuid)", method: .patch, headers: HubTest.basic("alice"),
                                     body: try HubTest.body(["is_active": false, "token_label": "ci-off"])) { response in
                let body = HubTest.object(response)
                #expect(body["is_active"] as? Bool == false)
                #expect(body["token_label"] as? String == "ci-off")
            }
            try await client.execute(uri: "/v2/repositories/", method: .post, headers: tokenAuth,
                                     body: try HubTest.body(["namespace": "alice", "name": "x"])) { response in
                try HubTest.hubError(response, .unauthorized)
            }
            try await client.execute(uri: "/v2/access-tokens/\(uuid)", method: .patch, headers: HubTest.basic("alice"),
                                     body: try HubTest.body(["is_active": true])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/repositories/alice/", method: .get, headers: tokenAuth) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/access-tokens/\(uuid)", method: .delete, headers: HubTest.basic("alice")) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/v2/access-tokens/\(uuid)", method: .get, headers: HubTest.basic("alice")) { response in
                try HubTest.hubError(response, .notFound)
            }
            try await client.execute(uri: "/v2/access-tokens", method: .post, headers: HubTest.basic("alice"),
                                     body: try HubTest.body(["token_label": "bad", "scopes": ["repo:everything"]])) { response in
                try HubTest.hubError(response, .badRequest)
            }
        }
    }
}
