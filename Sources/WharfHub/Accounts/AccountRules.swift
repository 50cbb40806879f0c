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
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(" ") else {
            throw HubError.invalid("email", "email must be an address like name@example.com")
        }
        return email
    }

    public static func password(_ raw: String) throws -> String {
        guard raw.count >= 8 else { throw HubError.invalid("password", "password must be at least 8 characters") }
        guard raw.utf8.count <= 72 else { throw HubError.invalid("password", "password must be at most 72 bytes") }
        return raw
    }

    public static func team(_ raw: String) throws -> TeamName {
        guard let team = TeamName(raw) else { throw HubError.invalid("name", "team names are 1 to 30 of a-z, 0-9, - and _") }
        return team
    }

    public static func permission(_ raw: String) throws -> Permission {
        guard let permission = Permission(name: raw) else { throw HubError.invalid("permission", "permission must be read, write or admin") }
        return permission
    }

    public static func privateRepoLimit(_ value: Int) throws -> Int {
        guard value >= 0 else { throw HubError.invalid("private_repo_limit", "private_repo_limit cannot be negative") }
        return value
    }
}
