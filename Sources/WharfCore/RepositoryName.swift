/// A validated repository name (`namespace/name`, possibly nested), as the OCI spec defines it.
///
/// A name with a single component (`nginx`) is the official-namespace repository
/// `library/nginx`, as on Docker Hub.
public struct RepositoryName: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The longest accepted name, in characters, after normalisation.
    public static let maxLength = 255
    /// The namespace that holds official images.
    public static let officialNamespace = "library"

    /// The canonical name, e.g. `library/nginx` or `acme/tools/builder`.
    public let value: String

    /// Validates and normalises `raw`; returns nil when it is not a valid repository name.
    public init?(_ raw: some StringProtocol) {
        let raw = String(raw)
        let components = raw.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.isEmpty, components.allSatisfy(Self.isValidComponent) else { return nil }
        let canonical = components.count == 1 ? "\(Self.officialNamespace)/\(raw)" : String(raw)
        guard canonical.utf8.count <= Self.maxLength else { return nil }
        value = canonical
    }

    /// The first path component: the user or organization that owns the repository.
    public var namespace: Substring { value[..<value.firstIndex(of: "/")!] }

    /// Everything after the namespace.
    public var shortName: Substring { value[value.index(after: value.firstIndex(of: "/")!)...] }

    public var description: String { value }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if isAlnum(b) { i += 1; continue }
            // A separator run: ".", "_", "__" or "-+", always followed by an alphanumeric.
            var j = i
            switch b {
            case UInt8(ascii: "."):
                j += 1
            case UInt8(ascii: "_"):
                j += 1
                if j < bytes.count, bytes[j] == UInt8(ascii: "_") { j += 1 }
            case UInt8(ascii: "-"):
                while j < bytes.count, bytes[j] == UInt8(ascii: "-") { j += 1 }
            default:
                return false
            }
            guard j < bytes.count, isAlnum(bytes[j]) else { return false }
            i = j
        }
        return true
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
    }
}
