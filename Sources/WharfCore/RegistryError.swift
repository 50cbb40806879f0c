/// An error the registry API reports to clients, rendered as the OCI error body
/// `{"errors":[{"code","message","detail"}]}` with the HTTP status the spec names.
public struct RegistryError: Error, Sendable, Equatable {
    /// An OCI (or Distribution) error code with its HTTP status.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let status: Int

        public init(_ name: String, _ status: Int) {
            self.name = name
            self.status = status
        }

        public var description: String { name }

        public static let blobUnknown = Code("BLOB_UNKNOWN", 404)
        public static let blobUploadInvalid = Code("BLOB_UPLOAD_INVALID", 400)
        public static let blobUploadUnknown = Code("BLOB_UPLOAD_UNKNOWN", 404)
        public static let digestInvalid = Code("DIGEST_INVALID", 400)
        public static let manifestBlobUnknown = Code("MANIFEST_BLOB_UNKNOWN", 400)
        public static let manifestInvalid = Code("MANIFEST_INVALID", 400)
        public static let manifestUnknown = Code("MANIFEST_UNKNOWN", 404)
        /// An index names a child manifest the repository does not have (a client error on PUT).
        public static let manifestChildUnknown = Code("MANIFEST_UNKNOWN", 400)
        public static let notFound = Code("NOT_FOUND", 404)
        public static let nameInvalid = Code("NAME_INVALID", 400)
        public static let nameUnknown = Code("NAME_UNKNOWN", 404)
        public static let sizeInvalid = Code("SIZE_INVALID", 400)
        /// A manifest PUT to a reference that is not a valid tag.
        public static let tagInvalid = Code("TAG_INVALID", 400)
        public static let unauthorized = Code("UNAUTHORIZED", 401)
        public static let denied = Code("DENIED", 403)
        public static let unsupported = Code("UNSUPPORTED", 405)
        public static let tooManyRequests = Code("TOOMANYREQUESTS", 429)
        public static let rangeInvalid = Code("RANGE_INVALID", 416)
        public static let paginationNumberInvalid = Code("PAGINATION_NUMBER_INVALID", 400)
        public static let manifestTooLarge = Code("MANIFEST_INVALID", 413)
        public static let unavailable = Code("UNAVAILABLE", 503)
        public static let unknown = Code("UNKNOWN", 500)
    }

    public let code: Code
    public let message: String
    /// Extra JSON-able detail, as key/value strings (e.g. `["digest": "sha256:…"]`).
    public let detail: [String: String]?

    /// Headers the response must carry (e.g. `Range` on a 416, `WWW-Authenticate` on a 401).
    public var headers: [String: String]

    public init(_ code: Code, _ message: String, detail: [String: String]? = nil, headers: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers
    }

    /// The HTTP status code.
    public var statusCode: Int { code.status }
}

extension RegistryError {
    public static func blobUnknown(_ digest: Digest) -> Self {
        .init(.blobUnknown, "blob unknown to registry", detail: ["digest": digest.description])
    }

    public static func manifestUnknown(_ reference: Reference) -> Self {
        .init(.manifestUnknown, "manifest unknown", detail: ["reference": reference.description])
    }

    public static func nameUnknown(_ name: RepositoryName) -> Self {
        .init(.nameUnknown, "repository name not known to registry", detail: ["name": name.value])
    }

    public static func uploadUnknown(_ id: String) -> Self {
        .init(.blobUploadUnknown, "blob upload unknown to registry", detail: ["uuid": id])
    }

    public static func invalidName(_ raw: some StringProtocol) -> Self {
        .init(.nameInvalid, "invalid repository name: must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/...)* and be at most \(RepositoryName.maxLength) characters", detail: ["name": String(raw.prefix(300))])
    }

    public static func invalidDigest(_ raw: some StringProtocol) -> Self {
        .init(.digestInvalid, "invalid digest: expected sha256:<64 hex> or sha512:<128 hex>", detail: ["digest": String(raw.prefix(200))])
    }
}
