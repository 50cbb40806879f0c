import Foundation
import JWTKit
import WharfCore

/// The claims of a Docker Hub API token (`/v2/users/login`, `/v2/auth/token`): who logged in and,
/// when they logged in with a personal access token, which one (so that revoking or deactivating
/// it ends the session too). Signed with the registry's key, for another audience: a Hub token is
/// no registry token, and the other way round.
public struct HubSessionClaims: JWTPayload {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var jti: IDClaim
    /// The personal access token the session was made from; nil for a password.
    public var tid: String?

    /// Times are checked by `TokenService.verifyHubSession` against its clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

extension TokenService {
    /// The audience of Hub API tokens.
    public static let hubAudience = "wharf-hub"

    /// A signed Hub API token for `account`, made from the personal access token `tokenID` (nil: a password).
    public func issueHubSession(account: String, tokenID: String?, lifetime: TimeInterval) async throws -> String {
        let now = clock.now
        let claims = HubSessionClaims(
            iss: .init(value: issuer), sub: .init(value: account), aud: .init(value: [Self.hubAudience]),
            exp: .init(value: now.addingTimeInterval(lifetime)), iat: .init(value: now),
            jti: .init(value: SecretToken.identifier()), tid: tokenID
        )
        return try await keys.sign(claims, kid: Self.kid)
    }

    /// The claims of a Hub API token this service issued; throws when forged, expired or a registry token.
    public func verifyHubSession(_ token: String) async throws -> HubSessionClaims {
        let claims = try await keys.verify(token, as: HubSessionClaims.self)
        guard claims.iss.value == issuer, claims.aud.value.contains(Self.hubAudience) else {
            throw JWTError.claimVerificationFailure(failedClaim: claims.aud, reason: "not a Hub API token")
        }
        try claims.exp.verifyNotExpired(currentDate: clock.now.addingTimeInterval(-Self.leeway))
        return claims
    }
}
