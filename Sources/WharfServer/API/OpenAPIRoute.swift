import Foundation
import Hummingbird

/// Serves the JSON API's OpenAPI 3 description at `/api/openapi.json`.
///
/// The description is the file `openapi.json` next to this one, a resource of the target: it is the
/// source of truth, checked against the router by `OpenAPIDocumentTests` and against a running
/// server by `tests/e2e/test_openapi_contract.py`.
struct OpenAPIRoute: Sendable {
    func register(on router: Router<WharfRequestContext>) {
        let document = Self.document
        router.get("/api/openapi.json") { _, _ in Response.json(document) }
    }

    /// The document's bytes, read once.
    static let document: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else { fatalError("openapi.json is missing from the WharfServer resource bundle") }
        return Array(data)
    }()
}
