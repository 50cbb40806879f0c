import Foundation
import Hummingbird

/// An error of the JSON API: `{"message": "...", "field": "..."}` with its HTTP status.
struct APIError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    /// The request field at fault, for validation errors.
    let field: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    var description: String { message }

    private struct Body: Encodable { let message: String; let field: String? }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try APIResponse.encoder.encode(Body(message: message, field: field))
        return .json(Array(body), status: status, headers: headers)
    }

    /// The error in Docker Hub's shape, `{"detail","message"}`; a rule broken is a 400 there.
    func hubResponse() throws -> Response {
        struct Body: Encodable { let detail: String; let message: String }
        let status: HTTPResponse.Status = self.status == .unprocessableContent ? .badRequest : self.status
        return .json(Array(try APIResponse.encoder.encode(Body(detail: message, message: message))), status: status, headers: headers)
    }

    static func invalid(_ field: String, _ message: String) -> APIError { APIError(.unprocessableContent, message, field: field) }
    static let unauthenticated = APIError(.unauthorized, "authentication required: use HTTP Basic (username and password or access token) or a Bearer access token")
    static let forbidden = APIError(.forbidden, "you are not allowed to do this")
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "\(what) not found") }
}

extension Request {
    /// Decodes a JSON object body, turning malformed input into a 400 or 422 that says what is
    /// wrong. Optional fields are left out when not wanted: an explicit `null` is refused.
    /// Fields in `nullable` may be `null` (they mean something, like "remove the secret").
    func decodeJSON<T: Decodable>(_ type: T.Type, nullable: Set<String> = []) async throws -> T {
        let data = Data(buffer: try await self.body.collect(upTo: 1024 * 1024))
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw APIError(.badRequest, "the request body is not valid JSON")
        }
        guard let fields = object as? [String: Any] else { throw APIError(.badRequest, "the request body must be a JSON object") }
        for field in fields.keys.sorted() where fields[field] is NSNull && !nullable.contains(field) && Self.reads(T.self, field: field, of: fields) {
            throw APIError.invalid(field, "\(field) may not be null; leave it out instead")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError.invalid(key.stringValue, "\(key.stringValue) is required")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.invalid(field, "\(field) has the wrong type")
        } catch {
            throw APIError(.badRequest, "the request body is not valid JSON")
        }
    }

    /// Whether decoding `T` reads `field` (unknown fields are ignored, not refused): probed by
    /// giving the field a value no field of an API body accepts.
    private static func reads<T: Decodable>(_ type: T.Type, field: String, of fields: [String: Any]) -> Bool {
        var probe = fields
        probe[field] = ["wharf.probe": [0]]
        guard let data = try? JSONSerialization.data(withJSONObject: probe) else { return true }
        do {
            _ = try JSONDecoder().decode(T.self, from: data)
            return false
        } catch DecodingError.typeMismatch(_, let context) {
            return context.codingPath.first?.stringValue == field
        } catch {
            return false  // another fault (a required field missing): the real decoding reports it
        }
    }
}

/// Encodes API responses with snake_case keys as written, ISO 8601 dates and sorted keys.
enum APIResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        .json(Array(try encoder.encode(value)), status: status)
    }
}
