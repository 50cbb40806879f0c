import WharfCore
import WharfMetadata

/// The private-repository plan: an account may have `privateRepoLimit` private repositories
/// (the server's default plan when unset), as on Docker Hub's free plan.
enum PlanLimit {
    /// Inside a transaction: throws `limitReached` when making `repository` private would exceed
    /// its namespace's plan. The namespace's account stays locked until commit, so two requests
    /// cannot both take the last place.
    static func checkPrivate(_ repository: RepositoryName, in tx: Stores, settings: HubSettings) async throws {
        guard let owner = try await tx.accounts.lockAccount(String(repository.namespace)) else { return }
        let limit = owner.privateRepoLimit ?? settings.defaultPrivateRepoLimit
        var count = try await tx.metadata.privateRepositoryCount(in: owner.name)
        if try await tx.metadata.repositoryInfo(repository)?.isPrivate == true { count -= 1 }
        guard count < limit else {
            throw HubError(.limitReached, message(namespace: owner.name, limit: limit), field: "is_private")
        }
    }

    /// Inside a transaction: creates the repository a push is about to write into (private when its
    /// namespace's default says so, which counts against the plan). Returns whether this push
    /// created it: of concurrent first pushes, exactly one.
    static func admitPushed(_ repository: RepositoryName, in tx: Stores, settings: HubSettings) async throws -> Bool {
        guard try await checkPushed(repository, in: tx, settings: settings) else { return false }
        return try await tx.metadata.createPushedRepository(repository)
    }

    /// Inside a transaction: throws `limitReached` when a push would create `repository` private
    /// beyond its namespace's plan; returns whether the push would create it.
    static func checkPushed(_ repository: RepositoryName, in tx: Stores, settings: HubSettings) async throws -> Bool {
        guard try await !tx.metadata.repositoryExists(repository) else { return false }
        // The namespace's account stays locked until commit: first pushes into it take turns.
        if try await tx.accounts.lockAccount(String(repository.namespace))?.defaultPrivate == true {
            try await checkPrivate(repository, in: tx, settings: settings)
        }
        return true
    }

    static func message(namespace: String, limit: Int) -> String {
        "the plan of \(namespace) allows \(limit) private \(limit == 1 ? "repository" : "repositories") and that limit is reached; make another repository public or ask an administrator to raise the limit"
    }
}
