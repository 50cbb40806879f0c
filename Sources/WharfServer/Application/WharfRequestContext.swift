import Hummingbird

/// The request context of every Wharf route.
public struct WharfRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address, for login throttling.
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }
}
