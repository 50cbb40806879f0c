/// A user or organization name: 4–30 lowercase letters and digits, as on Docker Hub,
/// and not one of the names Wharf reserves for itself.
public struct AccountName: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// Names no account may take: the official namespace and Wharf's own routes.
    public static let reserved: Set<String> = [
        "library", "admin", "administrator", "api", "v1", "v2", "repositories", "repository", "token", "login",
        "logout", "signup", "settings", "orgs", "organizations", "users", "user", "search", "explore", "static",
        "metrics", "healthz", "readyz", "root", "wharf", "help", "about", "official",
    ]

    public let value: String

    /// Validates `raw`; nil when it breaks the pattern or is reserved.
    public init?(_ raw: some StringProtocol) {
        guard Self.isWellFormed(raw), !Self.reserved.contains(String(raw)) else { return nil }
        value = String(raw)
    }

    /// An existing account name read back from storage (reserved names such as `admin` included).
    public init(trusted raw: String) {
        value = raw
    }

    /// 4–30 characters of `[a-z0-9]`.
    public static func isWellFormed(_ raw: some StringProtocol) -> Bool {
        (4...30).contains(raw.utf8.count) && raw.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    public var description: String { value }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}

/// A team name inside an organization: `[a-z0-9][a-z0-9_-]{0,29}`.
public struct TeamName: Hashable, Sendable, CustomStringConvertible {
    /// The team every organization has, whose members own it.
    public static let owners = TeamName(uncheckedValue: "owners")

    public let value: String

    public init?(_ raw: some StringProtocol) {
        let bytes = Array(raw.utf8)
        guard let first = bytes.first, bytes.count <= 30, Self.isAlnum(first),
              bytes.allSatisfy({ Self.isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return nil }
        value = String(raw)
    }

    private init(uncheckedValue: String) { value = uncheckedValue }

    public var description: String { value }

    private static func isAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
}

/// What a person may do with a repository; each level includes the ones below it.
public enum Permission: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case read = 1
    case write = 2
    case admin = 3

    public init?(name: String) {
        switch name {
        case "read": self = .read
        case "write": self = .write
        case "admin": self = .admin
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .read: "read"
        case .write: "write"
        case .admin: "admin"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Something done to a repository, and the permission it needs.
public enum RepositoryAction: String, Sendable, CaseIterable {
    /// Read manifests, blobs, tags, referrers.
    case pull
    /// Upload blobs, push manifests (creating the repository if needed).
    case push
    /// Delete manifests, tags and blobs.
    case delete
    /// Change visibility, description and collaborators; delete the repository.
    case manage

    public var requiredPermission: Permission {
        switch self {
        case .pull: .read
        case .push: .write
        case .delete, .manage: .admin
        }
    }
}

/// The scope of a personal access token, as on Docker Hub.
public enum TokenScope: String, Sendable, CaseIterable, Codable {
    case read = "read"
    case readWrite = "read-write"
    case readWriteDelete = "read-write-delete"
    /// Reads public repositories only, even those of its owner's private ones.
    case publicRead = "public-read"

    /// The most a credential with this scope may do, whatever its owner may do.
    public var ceiling: Permission {
        switch self {
        case .read, .publicRead: .read
        case .readWrite: .write
        case .readWriteDelete: .admin
        }
    }

    /// The scope Docker Hub's API names `hubName` (`repo:read`, `repo:write`, `repo:admin`, `repo:public_read`).
    public init?(hubName: String) {
        guard let scope = Self.allCases.first(where: { $0.hubName == hubName }) else { return nil }
        self = scope
    }

    /// This scope's name in Docker Hub's API.
    public var hubName: String {
        switch self {
        case .read: "repo:read"
        case .readWrite: "repo:write"
        case .readWriteDelete: "repo:admin"
        case .publicRead: "repo:public_read"
        }
    }
}
