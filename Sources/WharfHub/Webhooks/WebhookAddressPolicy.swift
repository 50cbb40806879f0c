import Foundation
import Synchronization
import WharfCore

/// Which addresses a webhook may call: the SSRF guard. By default nothing on loopback, private,
/// link-local (cloud metadata at 169.254.169.254), shared, multicast or reserved ranges, checked
/// on the addresses a host name resolves to, unless the administrator allows them.
public struct WebhookAddressPolicy: Sendable {
    let allowPrivate: Bool
    let allowed: [IPNetwork]

    public init(settings: WebhookSettings) {
        allowPrivate = settings.allowPrivate
        allowed = settings.allowedNetworks
    }

    /// The ranges refused by default, each with what it is.
    static let refused: [(network: IPNetwork, kind: String)] = [
        ("0.0.0.0/8", "an unspecified"), ("10.0.0.0/8", "a private"), ("100.64.0.0/10", "a shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "a loopback"), ("169.254.0.0/16", "a link-local"), ("172.16.0.0/12", "a private"),
        ("192.0.0.0/24", "a reserved"), ("192.168.0.0/16", "a private"), ("198.18.0.0/15", "a reserved"),
        ("224.0.0.0/4", "a multicast"), ("240.0.0.0/4", "a reserved"),
        ("::/128", "an unspecified"), ("::1/128", "a loopback"), ("fc00::/7", "a private"), ("fe80::/10", "a link-local"),
        ("ff00::/8", "a multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// Why `address` may not be called, or nil when it may.
    public func refusal(of address: [UInt8]) -> String? {
        if allowPrivate || allowed.contains(where: { $0.contains(address) }) { return nil }
        // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d) is judged as IPv4.
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF
            || address[0..<12] == [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0][...] {
            return refusal(of: Array(address[12..<16]))
        }
        guard let match = Self.refused.first(where: { $0.network.contains(address) }) else { return nil }
        let shown = IPNetwork(address: address)
        return "\(shown) is \(match.kind) address; webhooks may not call it unless the server allows it (--webhook-allow-private or --webhook-allowed-networks)"
    }

    /// The addresses `host` resolves to (itself when it is an address), in resolver order; a
    /// resolver that has not answered within `timeout` seconds counts as a failure.
    public static func resolve(_ host: String, timeout: Double = 5) async throws -> [[UInt8]] {
        let bare = bareHost(host)
        if let literal = IPNetwork.bytes(bare) { return [literal] }
        let waiter = OneShot<[[UInt8]]>()
        return try await withCheckedThrowingContinuation { continuation in
            waiter.set(continuation)
            // getaddrinfo blocks and cannot be cancelled: it runs on a thread of its own, and the first of answer and timeout wins.
            DispatchQueue.global().async { waiter.resume(with: Result { try lookUp(bare) }) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                waiter.resume(with: .failure(WebhookAddressError("the host \(bare) did not resolve within \(Int(timeout)) seconds")))
            }
        }
    }

    /// `host` without the brackets of an IPv6 literal (`[::1]` → `::1`).
    static func bareHost(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// getaddrinfo's answers for `host`, without duplicates.
    private static func lookUp(_ host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
            throw WebhookAddressError("the host \(host) cannot be resolved")
        }
        defer { freeaddrinfo(first) }
        var found: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                var bytes: [UInt8] = []
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var raw = v4.pointee.sin_addr
                        bytes = withUnsafeBytes(of: &raw) { Array($0) }
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var raw = v6.pointee.sin6_addr
                        bytes = withUnsafeBytes(of: &raw) { Array($0) }
                    }
                default: break
                }
                if !bytes.isEmpty, !found.contains(bytes) { found.append(bytes) }
            }
            cursor = entry.pointee.ai_next
        }
        return found
    }

    /// The address to connect to for `host`: the first it resolves to, when none of them is refused.
    /// Every address is checked, so a name with one public and one private address is refused.
    public func vet(host: String, timeout: Double = 5) async throws -> [UInt8] {
        let addresses = try await Self.resolve(host, timeout: timeout)
        guard let first = addresses.first else { throw WebhookAddressError("the host \(host) has no address") }
        for address in addresses {
            if let refusal = refusal(of: address) {
                throw WebhookAddressError(host == "\(IPNetwork(address: address))" ? refusal : "\(host) resolves to \(refusal)")
            }
        }
        return first
    }
}

/// A webhook URL that may not be called, and why.
public struct WebhookAddressError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A continuation resumed by whichever result comes first; later ones are dropped.
private final class OneShot<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(with result: Result<Value, any Error>) {
        continuation.withLock { stored in
            let waiting = stored
            stored = nil
            return waiting
        }?.resume(with: result)
    }
}
