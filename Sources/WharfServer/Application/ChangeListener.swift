import Logging
import ServiceLifecycle
import WharfHub
import WharfMetadata

/// On PostgreSQL, follows the other replicas' commits: cached reads are dropped at once, and
/// passwords verified for an account that changed elsewhere are forgotten. Bound: the time a
/// notification takes (milliseconds); if the listening connection fails, the read cache's 2 s.
struct ChangeListener: Service {
    let database: PostgresDatabaseAccess
    let hub: Hub

    func run() async throws {
        let authenticator = hub.authenticator
        await cancelWhenGracefulShutdown {
            await database.listenForChanges { payload in
                if payload.hasPrefix("account:") { authenticator.forgetVerifiedPasswords(of: String(payload.dropFirst(8))) }
            }
        }
    }
}
