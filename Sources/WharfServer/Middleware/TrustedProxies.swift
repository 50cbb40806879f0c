import Foundation
import HTTPTypes
import Hummingbird
import WharfHub
import WharfCore

/// The proxies (`--trusted-proxies CIDR,…`) whose `X-Forwarded-For` / `Forwarded` and
/// `X-Forwarded-Proto` headers Wharf believes. From anyone else those headers are ignored, so a
/// client cannot pick its own address to dodge the login throttle.
public struct TrustedProxies: Sendable, Equatable {
    let networks: [IPNetwork]

    /// Nobody is trusted.
    public static let none = TrustedProxies(networks: [])

    /// Parses `10.0.0.0/8,192.168.1.7,::1/128`; nil when an entry is not an address or a network.
    public init?(_ list: String) {
        guard let networks = IPNetwork.list(list) else { return nil }
        self.networks = networks
    }

    private init(networks: [IPNetwork]) {
        self.networks = networks
    }

    /// Whether `address` is one of the trusted proxies.
    public func contains(_ address: String) -> Bool {
        guard let bytes = IPNetwork.bytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client behind the proxies and the scheme it used: the right-most address of the
    /// forwarding chain that is not a trusted proxy. Only when `peer` itself is trusted.
    public func resolve(peer: String?, headers: HTTPFields) -> (client: String?, scheme: String?) {
        guard let peer, contains(peer) else { return (peer, nil) }
        var chain = headers[values: .xForwardedFor].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if chain.isEmpty {
            chain = headers[values: .forwarded].flatMap { $0.split(separator: ",") }.compactMap { Self.forwardedFor(String($0)) }
        }
        var client = peer
        for hop in chain.reversed() {
            client = hop
            if !contains(hop) { break }
        }
        let proto = headers[.xForwardedProto]?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return (client, proto == "https" || proto == "http" ? proto : nil)
    }

    /// `for=` of one `Forwarded` element (RFC 7239), without quotes, brackets or port.
    static func forwardedFor(_ element: String) -> String? {
        for pair in element.split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, kv[0].lowercased() == "for" else { continue }
            var value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if value.hasPrefix("["), let end = value.firstIndex(of: "]") {
                value = String(value[value.index(after: value.startIndex)..<end])
            } else if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
                value = String(value[..<colon])
            }
            return value
        }
        return nil
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let forwarded = Self("Forwarded")!
}

/// Takes the client's address and scheme from a trusted proxy's forwarding headers, before
/// anything logs, throttles or writes a URL.
struct ForwardedHeadersMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if !proxies.networks.isEmpty {
            let resolved = proxies.resolve(peer: context.clientAddress, headers: request.headers)
            context.clientAddress = resolved.client
            context.forwardedScheme = resolved.scheme
        }
        // The audit log notes where each action came from.
        return try await AuditContext.$clientAddress.withValue(context.clientAddress) { try await next(request, context) }
    }
}
