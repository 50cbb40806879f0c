import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import WharfServer

/// The OpenAPI document (`Sources/WharfServer/API/openapi.json`) is the source of truth for the JSON API:
/// it may not drift from the router in either direction. (Whether the server keeps the document's
/// promises about bodies and statuses is checked by `tests/e2e/test_openapi_contract.py`.)
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The document as served, parsed.
    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIRoute.document)) as? [String: Any])
    }

    /// The document's path items by path (`/api/repositories/{namespace}/{name}`).
    static func pathItems() throws -> [String: [String: Any]] {
        let paths = try #require(try document()["paths"] as? [String: Any], "the document has no paths")
        return try paths.mapValues { try #require($0 as? [String: Any]) }
    }

    /// `METHOD /path` for every operation of the document.
    static func documentedOperations() throws -> Set<String> {
        var operations: Set<String> = []
        for (path, item) in try pathItems() {
            for key in item.keys where methods.contains(key) {
                operations.insert("\(key.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// Runs `body` with `METHOD /path` for every route of the router under `/api/`, captures written
    /// `{name}` as in OpenAPI (Hummingbird registers them as `:name` and describes them as `{name}`).
    static func withRoutedOperations(_ body: @Sendable (Set<String>) throws -> Void) async throws {
        try await TestRegistry().runWithDependencies { _, dependencies in
            let router = buildRouter(dependencies)
            let routed = Set(router.routes.compactMap { route -> String? in
                let path = route.path.description
                return path.hasPrefix("/api/") ? "\(route.method.rawValue) \(path)" : nil
            })
            try body(routed)
        }
    }

    @Test("every operation in openapi.json is a route of the router")
    func documentedOperationsAreRouted() async throws {
        let documented = try Self.documentedOperations()
        #expect(!documented.isEmpty)
        try await Self.withRoutedOperations { routed in
            let missing = documented.subtracting(routed).sorted()
            #expect(missing.isEmpty, "documented but not routed: \(missing)")
        }
    }

    @Test("every route under /api/ is an operation in openapi.json")
    func routesAreDocumented() async throws {
        let documented = try Self.documentedOperations()
        try await Self.withRoutedOperations { routed in
            #expect(!routed.isEmpty)
            let undocumented = routed.subtracting(documented).sorted()
            #expect(undocumented.isEmpty, "routed but not documented: \(undocumented)")
        }
    }

    @Test("every {parameter} of a documented path is declared as a path parameter, and no other")
    func pathParametersAreDeclared() throws {
        let document = try Self.document()
        let components = (document["components"] as? [String: Any])?["parameters"] as? [String: Any] ?? [:]
        /// The names of the path parameters in a parameter list, following `#/components/parameters/…`.
        func pathParameters(_ list: Any?) throws -> Set<String> {
            var names: Set<String> = []
            for entry in list as? [[String: Any]] ?? [] {
                var parameter = entry
                if let reference = entry["$ref"] as? String {
                    let name = String(try #require(reference.split(separator: "/").last))
                    parameter = try #require(components[name] as? [String: Any], "unresolved \(reference)")
                }
                if parameter["in"] as? String == "path", let name = parameter["name"] as? String { names.insert(name) }
            }
            return names
        }
        for (path, item) in try Self.pathItems() {
            let inPath = Set(path.split(separator: "/").filter { $0.hasPrefix("{") && $0.hasSuffix("}") }
                .map { String($0.dropFirst().dropLast()) })
            let shared = try pathParameters(item["parameters"])
            for (method, operation) in item where Self.methods.contains(method) {
                let declared = shared.union(try pathParameters((operation as? [String: Any])?["parameters"]))
                #expect(declared == inPath, "\(method.uppercased()) \(path) declares path parameters \(declared.sorted())")
            }
        }
    }

    @Test("GET /api/openapi.json serves Sources/WharfServer/API/openapi.json as application/json")
    func served() async throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/WharfServer/API/openapi.json")
        let expected = try Data(contentsOf: source)
        try await TestRegistry().runWithDependencies { client, _ in
            try await client.execute(uri: "/api/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                // (A Bool, not the bytes, so that a failure does not print 60 KB of numbers.)
                let served = Data(buffer: response.body)
                let same = served == expected
                #expect(same, "the served document (\(served.count) bytes) differs from the file (\(expected.count) bytes): rebuild")
            }
        }
    }
}
