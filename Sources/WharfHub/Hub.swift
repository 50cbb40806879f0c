import Foundation
import Logging
import WharfAuth
import WharfCore
import WharfMetadata
import WharfStorage

/// The hub's domain services. Every rule lives in one of them; `/v2`, `/api`, the command line
/// (and the website and Docker Hub API to come) call services, never stores.
public struct Hub: Sendable {
    public let stores: Stores
    public let settings: HubSettings
    public let authenticator: Authenticator
    public let access: Access
    public let accounts: AccountService
    public let tokens: AccessTokenService
    public let organizations: OrganizationService
    public let repositories: RepositoryService
    public let tags: TagService
    public let registry: Registry
    public let webhooks: WebhookService
    public let builds: BuildService
    /// Online garbage collection.
    public let garbageCollector: GarbageCollector
    /// Retention policies.
    public let retention: RetentionService
    /// Immutable tag rules and storage quotas.
    public let storagePolicies: StoragePolicyService
    /// The audit log.
    public let audit: AuditService

    public init(stores: Stores, blobs: any BlobStore, settings: HubSettings, hasher: PasswordHasher = PasswordHasher()) {
        let authenticator = Authenticator(accounts: stores.accounts, hasher: hasher, clock: stores.clock)
        let access = Access(accounts: stores.accounts)
        self.stores = stores
        self.settings = settings
        self.authenticator = authenticator
        self.access = access
        accounts = AccountService(stores: stores, access: access, authenticator: authenticator, settings: settings)
        tokens = AccessTokenService(stores: stores, access: access)
        organizations = OrganizationService(stores: stores, access: access)
        repositories = RepositoryService(stores: stores, access: access, settings: settings)
        let registry = Registry(stores: stores, blobs: blobs, settings: settings)
        self.registry = registry
        tags = TagService(access: access, registry: registry)
        webhooks = WebhookService(stores: stores, access: access, settings: settings)
        builds = BuildService(stores: stores, access: access, settings: settings)
        garbageCollector = GarbageCollector(registry: registry, access: access, logger: Logger(label: "wharf.gc"))
        retention = RetentionService(registry: registry, access: access)
        storagePolicies = StoragePolicyService(stores: stores, access: access)
        audit = AuditService(stores: stores)
    }

    /// The operator at the command line: may do what an administrator with a password may.
    public static let commandLine = Principal(name: "", isAdmin: true)

    /// With no administrator at all, creates `admin` with `password`, or a random one (returned).
    public func ensureAdministrator(password: String?) async throws -> (created: Bool, password: String?) {
        guard try await stores.accounts.adminCount() == 0, try await stores.accounts.account(Self.firstAdministrator) == nil else {
            return (false, nil)
        }
        let chosen = password ?? SecretToken.generatePassword()
        _ = try await accounts.createUser(username: Self.firstAdministrator, email: nil, password: chosen, isAdmin: true, allowReserved: true)
        return (true, password == nil ? chosen : nil)
    }

    /// The name of the administrator created on first start.
    public static let firstAdministrator = "admin"
}
