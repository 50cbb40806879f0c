import Foundation

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::1/128`, or one address), for trusted proxies and
/// for the addresses webhooks may call.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let address: [UInt8]
    public let prefix: Int

    /// Parses `192.168.0.0/16`, `fe80::/10` or a bare address; nil when it is neither.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let address = Self.bytes(first) else { return nil }
        let prefix = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let prefix, (0...address.count * 8).contains(prefix) else { return nil }
        self.address = address
        self.prefix = prefix
    }

    /// One address (4 or 16 bytes) as a network of its own.
    public init(address: [UInt8]) {
        precondition(address.count == 4 || address.count == 16, "an IP address has 4 or 16 bytes")
        self.address = address
        prefix = address.count * 8
    }

    /// Parses a comma-separated list; nil when an entry is not a network.
    public static func list(_ text: String) -> [IPNetwork]? {
        var networks: [IPNetwork] = []
        for entry in text.split(separator: ",") {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let network = IPNetwork(trimmed) else { return nil }
            networks.append(network)
        }
        return networks
    }

    public var description: String {
        var text = [UInt8](repeating: 0, count: 64)
        let family = address.count == 4 ? AF_INET : AF_INET6
        let shown = address.withUnsafeBytes { raw in
            text.withUnsafeMutableBufferPointer { out in
                inet_ntop(family, raw.baseAddress, out.baseAddress, socklen_t(out.count)) != nil
            }
        }
        let host = shown ? String(decoding: text.prefix { $0 != 0 }, as: UTF8.self) : "?"
        return prefix == address.count * 8 ? host : "\(host)/\(prefix)"
    }

    /// Whether the address (in the same family) lies in this network.
    public func contains(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == address.count else { return false }
        var remaining = prefix
        for (a, b) in zip(address, bytes) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a & mask != b & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// Whether the textual address lies in this network.
    public func contains(_ address: String) -> Bool {
        Self.bytes(address).map(contains) ?? false
    }

    /// The address's bytes (4 for IPv4, 16 for IPv6), nil when it is neither.
    public static func bytes(_ address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
