import Hummingbird
import WharfAuth
import WharfCore
import WharfMetadata

/// Applies the access policy to `/v2` requests, answering the way docker expects: a 401 challenge
/// when logging in (or a token with more scope) could help, 403 `DENIED` when it cannot.
struct RegistryAuthorizer: Sendable {
    let accounts: any AccountStore
    let settings: HubSettings

    /// Throws unless `credential` may do `action` on `repository`.
    func authorize(_ credential: Credential, _ action: RepositoryAction, on repository: RepositoryName, request: Request) async throws {
        let facts = try await accounts.accessFacts(for: credential.principal?.name, on: repository)
        let tokenAction = action == .pull ? "pull" : action == .push ? "push" : "delete"
        let challenge = Challenge(request: request, settings: settings, scope: "repository:\(repository.value):\(action == .push ? "pull,push" : tokenAction)")
        let allowed: Bool
        switch credential {
        case .registryToken(let claims, let principal):
            let granted = claims.actions(on: "repository", repository.value)
            if granted.contains(tokenAction) || granted.contains("*") {
                allowed = true
            } else if AccessPolicy.allows(principal, action, on: repository, facts: facts) {
                throw challenge.error(message: "the token does not cover this repository", insufficientScope: true)
            } else {
                allowed = false
            }
        default:
            allowed = AccessPolicy.allows(credential.principal, action, on: repository, facts: facts)
        }
        guard allowed else {
            if credential.principal == nil { throw challenge.error() }
            throw RegistryError(.denied, "requested access to the resource is denied", detail: ["name": repository.value])
        }
        if action == .push, !facts.exists {
            try await checkPlan(forNew: repository)
        }
    }

    /// Whether `credential` may read `repository` (cross-repository mount sources).
    func mayPull(_ credential: Credential, from repository: RepositoryName) async throws -> Bool {
        if case .registryToken(let claims, _) = credential {
            let granted = claims.actions(on: "repository", repository.value)
            return granted.contains("pull") || granted.contains("*")
        }
        let facts = try await accounts.accessFacts(for: credential.principal?.name, on: repository)
        return AccessPolicy.allows(credential.principal, .pull, on: repository, facts: facts)
    }

    /// Refuses a new repository that would start private beyond its namespace's plan.
    func checkPlan(forNew repository: RepositoryName) async throws {
        guard let owner = try await accounts.account(String(repository.namespace)), owner.defaultPrivate else { return }
        try await checkPrivateLimit(of: owner, adding: repository)
    }

    /// Throws `DENIED` when `owner` already has as many private repositories as its plan allows.
    func checkPrivateLimit(of owner: Account, adding repository: RepositoryName) async throws {
        let limit = owner.privateRepoLimit ?? settings.defaultPrivateRepoLimit
        var count = try await accounts.privateRepositoryCount(in: owner.name)
        // A concurrent request (docker pushes layers in parallel) may have created it meanwhile.
        if try await accounts.repositoryInfo(repository)?.isPrivate == true { count -= 1 }
        guard count < limit else {
            throw RegistryError(.denied, PlanLimit.message(namespace: owner.name, limit: limit), detail: ["name": repository.value])
        }
    }
}

/// The wording of the private-repository plan limit.
enum PlanLimit {
    static func message(namespace: String, limit: Int) -> String {
        "the plan of \(namespace) allows \(limit) private \(limit == 1 ? "repository" : "repositories") and that limit is reached; make another repository public or ask an administrator to raise the limit"
    }
}
