import Foundation
import Hummingbird

/// Serves the JSON API's OpenAPI 3 description at `/api/openapi.json`.
///
/// The description is the file `openapi.json` next to this one, compiled into the binary by the
/// EmbedFiles plugin (see `embed.txt`): it is the source of truth, checked against the router by
/// `OpenAPIDocumentTests` and against a running server by `tests/e2e/test_openapi_contract.py`.
struct OpenAPIRoute: Sendable {
    func register(on router: Router<WharfRequestContext>) {
        let document = Self.document
        router.get("/api/openapi.json") { _, _ in Response.json(document) }
    }

    /// The document's bytes (the file's text, which a raw string literal holds exactly).
    static let document: [UInt8] = Array(EmbeddedFiles.openAPIDocument.utf8)
}
