import Foundation
import Logging
import WharfAuth
import WharfMetadata

/// Makes sure a fresh installation can be administered: with no administrator at all, creates
/// `admin` with the given password, or a random one printed once in the log.
public enum AdminBootstrap {
    public static let username = "admin"

    public static func ensureAdmin(in accounts: any AccountStore, hasher: PasswordHasher, password: String?, logger: Logger) async throws {
        guard try await accounts.adminCount() == 0, try await accounts.account(username) == nil else { return }
        let chosen = password ?? SecretToken.generate(prefix: "").prefix(20).description
        try await accounts.createAccount(Account(name: username, kind: .user, passwordHash: try await hasher.hash(chosen), isAdmin: true))
        if password == nil {
            logger.notice("created the first administrator; log in with: docker login -u \(username) -p \(chosen) HOST  (change it with: wharf user set-password)")
        } else {
            logger.notice("created the first administrator from WHARF_ADMIN_PASSWORD", metadata: ["wharf.user": "\(username)"])
        }
    }
}
