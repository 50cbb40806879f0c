import Foundation
import Hummingbird
import WharfCore

extension RegistryError: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: statusCode) }

    /// The OCI error body: `{"errors":[{"code","message","detail"}]}`.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields(self.headers)
        headers[.contentType] = "application/json; charset=utf-8"
        let body = ByteBuffer(bytes: jsonBody())
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: request.method == .head ? .init() : .init(byteBuffer: body))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    func jsonBody() -> [UInt8] {
        struct Body: Encodable {
            struct Entry: Encodable {
                let code: String
                let message: String
                let detail: [String: String]?
            }
            let errors: [Entry]
        }
        let body = Body(errors: [.init(code: code.name, message: message, detail: detail)])
        return Array((try? Self.encoder.encode(body)) ?? Data())
    }
}
