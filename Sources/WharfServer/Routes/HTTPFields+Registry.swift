import HTTPTypes

extension HTTPField.Name {
    static let dockerDistributionAPIVersion = Self("Docker-Distribution-API-Version")!
    static let dockerContentDigest = Self("Docker-Content-Digest")!
    static let dockerUploadUUID = Self("Docker-Upload-UUID")!
    static let ociSubject = Self("OCI-Subject")!
    static let ociFiltersApplied = Self("OCI-Filters-Applied")!
    /// Docker Hub's pull-limit headers.
    static let rateLimitLimit = Self("ratelimit-limit")!
    static let rateLimitRemaining = Self("ratelimit-remaining")!
    static let dockerRateLimitSource = Self("docker-ratelimit-source")!
    /// The v1 index ping's answer: this registry stands alone (`docker search`).
    static let dockerRegistryStandalone = Self("X-Docker-Registry-Standalone")!
    static let ociChunkMinLength = Self("OCI-Chunk-Min-Length")!
    static let link = Self("Link")!
}

extension HTTPFields {
    /// Builds fields from name/value pairs (names must be valid).
    init(_ pairs: [String: String]) {
        self.init()
        for (name, value) in pairs {
            if let name = HTTPField.Name(name) { self[name] = value }
        }
    }
}
