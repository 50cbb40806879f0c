import Foundation

/// Hub-wide settings the services enforce.
public struct HubSettings: Sendable {
    /// Whether people may sign up through the API.
    public var signupEnabled = true
    /// Private repositories an account may have unless an admin set its own limit (Docker Hub's free plan: 1).
    public var defaultPrivateRepoLimit = 1
    /// The `service` named in token challenges and checked as the tokens' audience.
    public var service = "wharf"
    /// Whether clients reach the server over HTTPS (for the token realm URL).
    public var usesTLS = false

    /// When set, blob GETs answer 307 to a URL of the object store valid this many seconds.
    public var blobRedirectSeconds: Int?

    public init() {}
}
