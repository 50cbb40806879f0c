import Foundation

/// Where an S3 storage lives: `s3://bucket/prefix?endpoint=https://host:port&region=us-east-1&path_style=true`,
/// with credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Key prefix without a trailing `/` ("" for the bucket's root).
    public var prefix: String
    /// `scheme://host[:port]`.
    public var endpoint: String
    public var region: String
    /// Address the bucket in the path (`endpoint/bucket/key`) rather than the host name.
    public var pathStyle: Bool
    public var accessKey: String
    public var secretKey: String

    /// Parses `url`; credentials come from `environment`.
    public init(url: String, environment: [String: String]) throws {
        guard let components = URLComponents(string: url), components.scheme == "s3", let bucket = components.host, !bucket.isEmpty else {
            throw S3Error.configuration("storage must look like s3://bucket/prefix?endpoint=https://host&region=us-east-1")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        self.bucket = bucket
        prefix = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        region = query["region"] ?? environment["AWS_REGION"] ?? "us-east-1"
        endpoint = query["endpoint"] ?? "https://s3.\(region).amazonaws.com"
        pathStyle = (query["path_style"] ?? "false") == "true"
        guard let accessKey = environment["AWS_ACCESS_KEY_ID"], let secretKey = environment["AWS_SECRET_ACCESS_KEY"],
              !accessKey.isEmpty, !secretKey.isEmpty else {
            throw S3Error.configuration("S3 storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        }
        self.accessKey = accessKey
        self.secretKey = secretKey
        guard URL(string: endpoint)?.host != nil else { throw S3Error.configuration("the S3 endpoint \(endpoint) is not a URL") }
    }

    /// The object key for a storage key.
    func objectKey(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix)/\(key)" }
}

/// A failed S3 request or configuration.
public enum S3Error: Error, CustomStringConvertible {
    case configuration(String)
    case status(Int, String, String)

    public var description: String {
        switch self {
        case .configuration(let message): message
        case .status(let code, let operation, let body): "S3 \(operation) answered \(code): \(body.prefix(300))"
        }
    }
}
