import Hummingbird

/// The request context of every Wharf route.
public struct WharfRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address, for login throttling (behind a trusted proxy: the one it forwards for).
    public var clientAddress: String?
    /// The scheme the client used, when a trusted proxy says so (`X-Forwarded-Proto`).
    public var forwardedScheme: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }
}
