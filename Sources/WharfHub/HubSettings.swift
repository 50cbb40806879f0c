import Foundation
import WharfCore

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
    /// The server's address as people reach it, for URLs written outside a request (webhook payloads).
    public var publicURL = "http://127.0.0.1:5000"
    /// How webhooks are delivered.
    public var webhooks = WebhookSettings()
    /// The engine automated builds run on (`buildah`, `docker`); nil: builds are refused.
    public var buildEngine: String?
    /// What garbage collection may reclaim, and when.
    public var garbageCollection = GarbageCollector.Policy()
    /// Pull rate limits.
    public var pullLimits = PullLimiter.Settings()

    public init() {}
}

/// How webhooks are delivered: timeouts, retries, auto-disable, and which addresses they may call.
public struct WebhookSettings: Sendable {
    /// Receivers on loopback, private and link-local addresses are allowed (off: an SSRF guard).
    public var allowPrivate = false
    /// Networks allowed even when private addresses are not.
    public var allowedNetworks: [IPNetwork] = []
    /// Seconds one attempt may take.
    public var timeout: Double = 10
    /// Seconds before the second attempt; each later wait doubles (with jitter), up to `retryMaxDelay`.
    public var retryDelay: Double = 5
    public var retryMaxDelay: Double = 3600
    /// A delivery still failing this many seconds after it was queued has failed for good.
    public var retryFor: Double = 24 * 3600
    /// A webhook is disabled after this many deliveries in a row failed for good.
    public var disableAfter = 10
    /// Finished deliveries kept per webhook for its log.
    public var keptDeliveries = 100

    public init() {}
}
