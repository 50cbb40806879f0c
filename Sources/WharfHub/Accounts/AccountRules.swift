import WharfAuth
import WharfCore
import WharfMetadata

/// The rules account values follow, wherever they come from (sign-up, settings, the command line).
public enum AccountRules {
    /// A valid new user name; operators (on the command line) may take reserved names such as `admin`.
    public static func username(_ raw: String, allowReserved: Bool = false) throws -> String {
        guard AccountName.isWellFormed(raw) else {
            throw HubError.invalid("username", "username must be 4 to 30 lowercase letters and digits")
        }
        guard allowReserved || AccountName(raw) != nil else { throw HubError.invalid("username", "the name \(raw) is reserved") }
        return raw
    }

    /// A valid organization name.
    public static func organizationName(_ raw: String) throws -> String {
        guard AccountName.isWellFormed(raw) else {
            throw HubError.invalid("name", "organization names must be 4 to 30 lowercase letters and digits")
        }
        guard AccountName(raw) != nil else { throw HubError.invalid("name", "the name \(raw) is reserved") }
        return raw
    }

    public static func email(_ raw: String) throws -> String {
        let email = raw.trimmingSpaces()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.unicodeScalars.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(" ") else {
            throw HubError.invalid("email", "email must be an address like name@example.com")
        }
        return email
    }

    /// 8 to 72 characters (Unicode scalars, as JSON Schema counts them).
    public static func password(_ raw: String) throws -> String {
        guard !raw.unicodeScalars.contains("\u{0}") else { throw HubError.invalid("password", "password may not contain NUL") }
        let length = raw.unicodeScalars.count
        guard length >= 8 else { throw HubError.invalid("password", "password must be at least 8 characters") }
        guard length <= 72 else { throw HubError.invalid("password", "password must be at most 72 characters") }
        return raw
    }

    /// A repository's own name in `namespace`: one path component, short enough that the full
    /// name fits `RepositoryName.maxLength`.
    public static func repositoryName(namespace: String, name: String) throws -> RepositoryName {
        guard AccountName.isWellFormed(namespace) else {
            throw HubError.invalid("namespace", "namespace must be an account name: 4 to 30 lowercase letters and digits")
        }
        guard !name.contains("/"), name.utf8.count <= maxRepositoryNameLength,
              let repository = RepositoryName("\(namespace)/\(name)") else {
            throw HubError.invalid("name", "repository names are lowercase letters, digits and separators (. _ -), one component of at most \(maxRepositoryNameLength) characters")
        }
        return repository
    }

    /// The longest own name of a repository: with the longest namespace and `/`, the full name still fits.
    public static let maxRepositoryNameLength = RepositoryName.maxLength - 31

    public static func team(_ raw: String) throws -> TeamName {
        guard let team = TeamName(raw) else { throw HubError.invalid("name", "team names are 1 to 30 of a-z, 0-9, - and _") }
        return team
    }

    public static func permission(_ raw: String) throws -> Permission {
        guard let permission = Permission(name: raw) else { throw HubError.invalid("permission", "permission must be read, write or admin") }
        return permission
    }

    /// The most a plan may allow.
    public static let maxPrivateRepoLimit = 1_000_000

    public static func privateRepoLimit(_ value: Int) throws -> Int {
        guard (0...maxPrivateRepoLimit).contains(value) else {
            throw HubError.invalid("private_repo_limit", "private_repo_limit must be 0 to \(maxPrivateRepoLimit)")
        }
        return value
    }

    /// A token's name: 1 to 100 characters without control characters, trimmed of spaces.
    public static func tokenName(_ raw: String) throws -> String {
        let name = raw.trimmingSpaces()
        guard raw.unicodeScalars.count <= 100, !name.isEmpty,
              !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw HubError.invalid("name", "name must be 1 to 100 characters without control characters")
        }
        return name
    }
}
