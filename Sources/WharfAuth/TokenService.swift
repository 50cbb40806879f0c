import Foundation
import JWTKit
import Synchronization
import WharfCore

/// One resource's granted actions inside a registry token (`access` claim).
public struct ResourceAccess: Codable, Sendable, Equatable {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String, name: String, actions: [String]) {
        self.type = type
        self.name = name
        self.actions = actions
    }
}

/// A requested scope, `type:name:action,action`, parsed as the token spec says: type up to the
/// first colon, actions after the last (names may contain `host:port`).
public struct ResourceScope: Sendable, Equatable {
    public var type: String
    public var name: String
    public var actions: [String]

    public init?(_ raw: some StringProtocol) {
        guard let first = raw.firstIndex(of: ":"), let last = raw.lastIndex(of: ":"), first < last else { return nil }
        var type = String(raw[..<first])
        if let paren = type.firstIndex(of: "(") { type = String(type[..<paren]) }  // repository(plugin)
        name = String(raw[raw.index(after: first)..<last])
        actions = String(raw[raw.index(after: last)...]).split(separator: ",").map(String.init)
        self.type = type
        guard !type.isEmpty, !name.isEmpty else { return nil }
    }

    /// Every scope in `values`, each of which may hold several space-separated scopes.
    public static func parseAll(_ values: [String]) -> [ResourceScope] {
        values.flatMap { $0.split(separator: " ") }.compactMap(ResourceScope.init)
    }

    public var description: String { "\(type):\(name):\(actions.joined(separator: ","))" }
}

/// The claims of a registry bearer token (Docker's token spec, ES256-signed).
public struct RegistryTokenClaims: JWTPayload {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim
    public var iat: IssuedAtClaim
    public var jti: IDClaim
    public var access: [ResourceAccess]

    /// Times are checked by `TokenService.verify` against its clock, not here.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The actions granted on `name` of `type`.
    public func actions(on type: String, _ name: String) -> Set<String> {
        Set(access.filter { $0.type == type && $0.name == name }.flatMap(\.actions))
    }
}

/// Issues and verifies the short-lived bearer tokens clients present to `/v2`.
public struct TokenService: Sendable {
    /// Clock skew tolerated when checking `exp` and `nbf`.
    public static let leeway: TimeInterval = 5

    public let issuer: String
    public let service: String
    public let lifetime: TimeInterval
    public let clock: any WallClock
    let keys: JWTKeyCollection
    /// Tokens whose signature and claims were already verified, until they expire.
    private let verified: BoundedCache<String, RegistryTokenClaims>
    static let kid = JWKIdentifier(string: "wharf-token-signing")

    /// Loads the ES256 signing key from `keyPath`, creating it (mode 0600) when absent.
    public static func load(keyPath: String, issuer: String = "wharf", service: String, lifetime: TimeInterval = 300,
                            clock: any WallClock = SystemClock()) async throws -> TokenService {
        let pem: String
        if let existing = try? String(contentsOfFile: keyPath, encoding: .utf8) {
            pem = existing
        } else {
            pem = newSigningKey()
            FileManager.default.createFile(atPath: keyPath, contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600])
        }
        return try await make(signingKey: pem, issuer: issuer, service: service, lifetime: lifetime, clock: clock)
    }

    /// The service signing with the ES256 private key `signingKey` (PEM). Replicas that share the
    /// key (it is kept in the database) verify each other's tokens.
    public static func make(signingKey: String, issuer: String = "wharf", service: String, lifetime: TimeInterval = 300,
                            clock: any WallClock = SystemClock()) async throws -> TokenService {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: signingKey), kid: kid)
        return TokenService(issuer: issuer, service: service, lifetime: lifetime, clock: clock, keys: keys,
                            verified: BoundedCache(budget: 10_000, clock: clock))
    }

    /// A new ES256 private key, as PEM.
    public static func newSigningKey() -> String {
        ES256PrivateKey().pemRepresentation
    }

    /// A signed token for `subject` ("" for anonymous) granting `access`.
    public func issue(subject: String, access: [ResourceAccess]) async throws -> String {
        let now = clock.now
        let claims = RegistryTokenClaims(
            iss: .init(value: issuer), sub: .init(value: subject), aud: .init(value: [service]),
            exp: .init(value: now.addingTimeInterval(lifetime)), nbf: .init(value: now.addingTimeInterval(-1)),
            iat: .init(value: now), jti: .init(value: SecretToken.identifier()), access: access
        )
        return try await keys.sign(claims, kid: Self.kid)
    }

    /// The claims of a token this service issued; throws when forged, expired or meant for another service.
    public func verify(_ token: String) async throws -> RegistryTokenClaims {
        // ECDSA verification costs far more than serving a manifest: remember tokens already checked.
        let now = clock.now
        if let claims = verified.value(token) { return claims }
        let claims = try await keys.verify(token, as: RegistryTokenClaims.self)
        guard claims.iss.value == issuer, claims.aud.value.contains(service) else {
            throw JWTError.claimVerificationFailure(failedClaim: claims.aud, reason: "token was issued for another registry")
        }
        try claims.exp.verifyNotExpired(currentDate: now.addingTimeInterval(-Self.leeway))
        try claims.nbf.verifyNotBefore(currentDate: now.addingTimeInterval(Self.leeway))
        verified.store(claims, for: token, expires: claims.exp.value.addingTimeInterval(Self.leeway))
        return claims
    }
}
