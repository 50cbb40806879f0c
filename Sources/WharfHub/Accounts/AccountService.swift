import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Sign-up, one's own account, and the administration of accounts.
public struct AccountService: Sendable {
    let stores: Stores
    let access: Access
    let authenticator: Authenticator
    let settings: HubSettings

    /// An account with what its owner sees about it.
    public struct Overview: Sendable {
        public let account: Account
        public let organizations: [String]
        public let privateRepositoryCount: Int
    }

    /// Signs up a new user; only administrators may when sign-up is turned off.
    public func signUp(username: String, email: String, password: String, by caller: Principal?) async throws -> Account {
        guard settings.signupEnabled || caller?.isAdmin == true else {
            throw HubError.forbidden("sign-up is turned off on this server; ask an administrator for an account")
        }
        return try await createUser(username: username, email: email, password: password)
    }

    /// Creates a user as the operator does on the command line (reserved names allowed there).
    public func createUser(username: String, email: String?, password: String, isAdmin: Bool = false,
                           privateRepoLimit: Int? = nil, allowReserved: Bool = false) async throws -> Account {
        let name = try AccountRules.username(username, allowReserved: allowReserved)
        let account = Account(
            name: name, kind: .user, email: try email.map(AccountRules.email),
            passwordHash: try await authenticator.hasher.hash(try AccountRules.password(password)), isAdmin: isAdmin,
            privateRepoLimit: try privateRepoLimit.map(AccountRules.privateRepoLimit), createdAt: stores.clock.now
        )
        do {
            try await stores.accounts.createAccount(account)
        } catch StoreError.exists {
            throw HubError.conflict("username", "the name \(name) is taken")
        }
        return account
    }

    /// The caller's account, organizations and private repository usage.
    public func overview(of principal: Principal?) async throws -> Overview {
        guard let principal else { throw HubError.unauthenticated }
        guard let account = try await stores.accounts.account(principal.name) else { throw HubError.unauthenticated }
        return Overview(account: account, organizations: try await stores.accounts.organizations(of: principal.name),
                        privateRepositoryCount: try await stores.metadata.privateRepositoryCount(in: principal.name))
    }

    /// Changes the caller's email, password or default visibility (the password is needed, not a token).
    public func updateSettings(email: String?, password: String?, defaultPrivate: Bool?, by principal: Principal?) async throws -> Overview {
        try access.require(principal, .changeSettings)
        guard let principal else { throw HubError.unauthenticated }
        var changes = AccountChanges(defaultPrivate: defaultPrivate)
        if let email { changes.email = try AccountRules.email(email) }
        if let password { changes.passwordHash = try await authenticator.hasher.hash(try AccountRules.password(password)) }
        guard try await stores.accounts.updateAccount(principal.name, changes) else { throw HubError.unauthenticated }
        if changes.passwordHash != nil {
            // A new password ends every website session (the browser that changed it logs in again).
            try await stores.sessions.deleteSessions(of: principal.name)
            authenticator.forgetVerifiedPasswords(of: principal.name)
            try await stores.announceAccountChange(principal.name)
        }
        return try await overview(of: principal)
    }

    /// Changes the caller's password after checking the current one (the website's form).
    public func changePassword(current: String, new: String, by principal: Principal?) async throws -> Overview {
        try access.require(principal, .changeSettings)
        guard let principal, let account = try await stores.accounts.account(principal.name) else { throw HubError.unauthenticated }
        guard let hash = account.passwordHash, try await authenticator.hasher.verify(current, hash: hash) else {
            throw HubError.invalid("current_password", "the current password is not right")
        }
        return try await updateSettings(email: nil, password: new, defaultPrivate: nil, by: principal)
    }

    /// Every account (administrators only).
    public func list(by principal: Principal?) async throws -> [Account] {
        try access.require(principal, .administerServer)
        return try await stores.accounts.accounts()
    }

    /// What an administrator may change about an account.
    public struct Administration: Sendable {
        public var isAdmin: Bool?
        public var disabled: Bool?
        /// `.some(nil)` resets to the server's default plan.
        public var privateRepoLimit: Int??
        public var password: String?
        /// `.some(nil)` resets to the server's default for accounts.
        public var pullLimit: Int??

        public init(isAdmin: Bool? = nil, disabled: Bool? = nil, privateRepoLimit: Int?? = nil, password: String? = nil, pullLimit: Int?? = nil) {
            self.pullLimit = pullLimit
            self.isAdmin = isAdmin
            self.disabled = disabled
            self.privateRepoLimit = privateRepoLimit
            self.password = password
        }
    }

    /// Applies an administrator's changes to account `name` and returns it.
    public func administer(_ name: String, _ change: Administration, by principal: Principal?) async throws -> Account {
        try access.require(principal, .administerServer)
        var changes = AccountChanges(isAdmin: change.isAdmin, disabled: change.disabled)
        if let limit = change.privateRepoLimit { changes.privateRepoLimit = .some(try limit.map(AccountRules.privateRepoLimit)) }
        if let limit = change.pullLimit {
            if let value = limit, !(0...100_000_000).contains(value) { throw HubError.invalid("pull_limit", "pull_limit must be from 0 to 100000000") }
            changes.pullLimit = .some(limit)
        }
        if let password = change.password { changes.passwordHash = try await authenticator.hasher.hash(try AccountRules.password(password)) }
        guard try await stores.accounts.updateAccount(name, changes), let account = try await stores.accounts.account(name) else {
            throw HubError.notFound("account")
        }
        if change.disabled == true || change.password != nil { try await stores.sessions.deleteSessions(of: name) }
        authenticator.forgetVerifiedPasswords(of: name)
        try await stores.announceAccountChange(name)
        return account
    }

    /// The private repository limit that applies to `account`.
    public func privateRepoLimit(of account: Account) -> Int {
        account.privateRepoLimit ?? settings.defaultPrivateRepoLimit
    }
}
