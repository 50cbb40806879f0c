/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
public struct Tag: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    public init?(_ raw: some StringProtocol) {
        let bytes = Array(raw.utf8)
        guard let first = bytes.first, bytes.count <= 128,
              Self.isWord(first),
              bytes.dropFirst().allSatisfy({ Self.isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { return nil }
        value = String(raw)
    }

    public var description: String { value }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    private static func isWord(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_")
    }
}

/// What follows `/manifests/`: a tag or a digest.
public enum Reference: Hashable, Sendable, CustomStringConvertible {
    case tag(Tag)
    case digest(Digest)

    /// Parses a reference; a `:` means a digest (tags cannot contain one).
    public init?(_ raw: some StringProtocol) {
        if raw.contains(":") {
            guard let digest = Digest(raw) else { return nil }
            self = .digest(digest)
        } else {
            guard let tag = Tag(raw) else { return nil }
            self = .tag(tag)
        }
    }

    public var description: String {
        switch self {
        case .tag(let tag): tag.value
        case .digest(let digest): digest.description
        }
    }
}
