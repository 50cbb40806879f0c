/// A rule of the hub said no. Services throw it; each surface (`/api`, `/v2`, the command line,
/// later the website and the Docker Hub API) maps it to its own shape in one place.
public struct HubError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A value breaks a rule (422 on `/api`).
        case invalid
        /// The thing does not exist, or the caller may not know it does.
        case notFound
        /// The caller is known but may not do this.
        case forbidden
        /// The name is taken.
        case conflict
        /// A plan limit (private repositories) is reached.
        case limitReached
        /// No credentials where some are needed.
        case unauthenticated
        /// The server cannot do this now or at all (no build engine): 503 on `/api`.
        case unavailable
    }

    public let kind: Kind
    public let message: String
    /// The request field at fault, when there is one.
    public let field: String?

    public init(_ kind: Kind, _ message: String, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public var description: String { message }

    public static func invalid(_ field: String, _ message: String) -> HubError { HubError(.invalid, message, field: field) }
    public static func notFound(_ what: String) -> HubError { HubError(.notFound, "\(what) not found") }
    public static func forbidden(_ message: String) -> HubError { HubError(.forbidden, message) }
    public static func conflict(_ field: String, _ message: String) -> HubError { HubError(.conflict, message, field: field) }
    public static let unauthenticated = HubError(.unauthenticated, "authentication required")
}
