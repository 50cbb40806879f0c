import Crypto
import Foundation

/// AWS Signature Version 4, as S3 and S3-compatible stores (SeaweedFS, MinIO, R2) check it:
/// a signed `Authorization` header for requests, or signed query parameters for presigned URLs
/// handed to clients (`--blob-redirect`). Checked against the examples AWS publishes.
public struct AWSSigner: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var region: String
    public var service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The payload hash that leaves the body unsigned (bodies are streamed; TLS protects them).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of nothing, for requests without a body.
    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// A request to sign: `path` and query values are given decoded; headers as sent.
    public struct Request: Sendable {
        public var method: String
        public var host: String
        public var path: String
        public var query: [(String, String)]
        public var headers: [(String, String)]

        public init(method: String, host: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = []) {
            self.method = method
            self.host = host
            self.path = path
            self.query = query
            self.headers = headers
        }
    }

    /// The headers to add to `request` (`x-amz-date`, `x-amz-content-sha256`, `Authorization`).
    public func sign(_ request: Request, payloadHash: String, date: Date) -> [(String, String)] {
        let time = Self.timestamp(date)
        var headers = request.headers + [("x-amz-date", time.full), ("x-amz-content-sha256", payloadHash)]
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { headers.append(("host", request.host)) }
        let (canonicalHeaders, signedHeaders) = Self.canonical(headers)
        let canonicalRequest = [
            request.method, Self.encodePath(request.path), Self.canonicalQuery(request.query),
            canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let signature = self.signature(of: canonicalRequest, time: time)
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope(time.day)),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return [("x-amz-date", time.full), ("x-amz-content-sha256", payloadHash), ("Authorization", authorization)]
    }

    /// The query of a presigned URL for `request` valid `expires` seconds from `date` (the
    /// request's own query first, then the `X-Amz-*` parameters, all encoded).
    public func presignedQuery(_ request: Request, expires: Int, date: Date) -> String {
        let time = Self.timestamp(date)
        var query = request.query + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(accessKey)/\(scope(time.day))"),
            ("X-Amz-Date", time.full),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        let canonicalRequest = [
            request.method, Self.encodePath(request.path), Self.canonicalQuery(query),
            "host:\(request.host)\n", "host", Self.unsignedPayload,
        ].joined(separator: "\n")
        query.append(("X-Amz-Signature", signature(of: canonicalRequest, time: time)))
        return Self.canonicalQuery(query)
    }

    private func scope(_ day: String) -> String { "\(day)/\(region)/\(service)/aws4_request" }

    private func signature(of canonicalRequest: String, time: (full: String, day: String)) -> String {
        let stringToSign = [
            "AWS4-HMAC-SHA256", time.full, scope(time.day), Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [time.day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd`, in UTC.
    static func timestamp(_ date: Date) -> (full: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// Lowercased names, trimmed values with inner runs of spaces folded, sorted by name.
    static func canonical(_ headers: [(String, String)]) -> (headers: String, signed: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            let folded = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            byName[name.lowercased(), default: []].append(folded)
        }
        let names = byName.keys.sorted()
        let lines = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    /// Pairs encoded and sorted by name, then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// Each segment encoded, `/` kept.
    static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    /// RFC 3986: unreserved characters as they are, every other byte as `%XX`.
    static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            if unreserved.contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8))

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
