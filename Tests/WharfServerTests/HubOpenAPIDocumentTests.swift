import Foundation
import Hummingbird
import Testing
import WharfHub
@testable import WharfServer

/// The Docker Hub API's OpenAPI document (`Sources/WharfServer/HubAPI/openapi.json`, served at
/// `/v2/openapi.json`) and the Hub routes agree in both directions. (Whether the server keeps
/// the document's promises is checked by `tests/e2e/test_hub_openapi_contract.py`.)
@Suite("Docker Hub API OpenAPI document")
struct HubOpenAPIDocumentTests {
    /// `METHOD /path` with parameters written `{}` and no trailing slash: routes match with or without it.
    static func normalized(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { $0.hasPrefix(":") || $0.hasPrefix("{") ? "{}" : String($0) }
        return "\(method.uppercased()) /\(segments.joined(separator: "/"))"
    }

    static func documented() throws -> Set<String> {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(HubAPIRoutes.document)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where OpenAPIDocumentTests.methods.contains(method) {
                operations.insert(normalized(method, path))
            }
        }
        return operations
    }

    /// The Hub routes: the table under `/v2` and the `/v1` routes of the router.
    static func withRouted(_ body: @Sendable (Set<String>) throws -> Void) async throws {
        try await TestRegistry().runWithDependencies { _, dependencies in
            let hub = dependencies.hub
            let sessions = HubSessionService(authenticator: hub.authenticator, tokens: dependencies.tokens, stores: hub.stores)
            let auth = APIAuthentication(authenticator: hub.authenticator, sessions: sessions, registryTokens: dependencies.tokens)
            var found = Set(HubAPIRoutes(auth: auth, hub: hub, sessions: sessions).table().paths.map { normalized($0.method, $0.path) })
            for route in buildRouter(dependencies).routes where route.path.description.hasPrefix("/v1/") {
                found.insert(normalized(route.method.rawValue, route.path.description))
            }
            try body(found)
        }
    }

    @Test("every Hub route is documented and every documented operation is routed")
    func agreement() async throws {
        let documented = try Self.documented()
        try await Self.withRouted { routed in
            #expect(!routed.isEmpty)
            #expect(routed.subtracting(documented).sorted().isEmpty, "routed but not documented: \(routed.subtracting(documented).sorted())")
            #expect(documented.subtracting(routed).sorted().isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
        }
    }

    @Test("the document is served at /v2/openapi.json")
    func served() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/v2/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(response.body.readableBytesView) == HubAPIRoutes.document)
            }
        }
    }
}
