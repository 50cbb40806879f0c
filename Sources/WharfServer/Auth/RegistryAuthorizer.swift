import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Applies the access policy to `/v2` requests, answering the way docker expects: a 401 challenge
/// when logging in (or a token with more scope) could help, 403 `DENIED` when it cannot.
struct RegistryAuthorizer: Sendable {
    let hub: Hub

    var settings: HubSettings { hub.settings }

    /// Throws unless `credential` may do `action` on `repository`.
    func authorize(_ credential: Credential, _ action: RepositoryAction, on repository: RepositoryName, request: Request,
                   context: WharfRequestContext) async throws {
        let tokenAction = action == .pull ? "pull" : action == .push ? "push" : "delete"
        let challenge = Challenge(request: request, context: context, settings: settings, scope: "repository:\(repository.value):\(action == .push ? "pull,push" : tokenAction)")
        let allowed: Bool
        switch credential {
        case .registryToken(let claims, let principal):
            if claims.grants(action, on: repository) {
                allowed = true
            } else if try await hub.access.allows(principal, action, on: repository) {
                throw challenge.error(message: "the token does not cover this repository", insufficientScope: true)
            } else {
                allowed = false
            }
        default:
            allowed = try await hub.access.allows(credential.principal, action, on: repository)
        }
        guard allowed else {
            if credential.principal == nil { throw challenge.error() }
            throw RegistryError(.denied, "requested access to the resource is denied", detail: ["name": repository.value])
        }
        if action == .push {
            try await hub.repositories.checkPushCreates(repository)
        }
    }

    /// Whether `credential` may read `repository` (cross-repository mount sources).
    func mayPull(_ credential: Credential, from repository: RepositoryName) async throws -> Bool {
        if case .registryToken(let claims, _) = credential {
            return claims.grants(.pull, on: repository)
        }
        return try await hub.access.allows(credential.principal, .pull, on: repository)
    }
}

extension RegistryTokenClaims {
    /// Whether the token's `access` claim covers `action` on `repository` (`*` covers everything).
    func grants(_ action: RepositoryAction, on repository: RepositoryName) -> Bool {
        let granted = actions(on: "repository", repository.value)
        return granted.contains("*") || granted.contains { RepositoryAction(tokenAction: $0) == action }
    }
}
