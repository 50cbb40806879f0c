import Crypto
import Foundation

/// High-entropy secrets (personal access tokens, refresh tokens) and how they are stored: only
/// their SHA-256 is kept, so a database leak reveals no usable token.
public enum SecretToken {
    /// The prefix of personal access tokens, which tells them apart from passwords.
    public static let personalPrefix = "wharf_pat_"
    /// The prefix of refresh tokens handed to `docker login`.
    public static let refreshPrefix = "wharf_rt_"

    /// A new random secret with `prefix`.
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return prefix + encoded
    }

    /// A random password of `length` letters and digits (safe on any command line: never starts with `-`).
    public static func generatePassword(length: Int = 20) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// The stored form of `secret`.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `bytes` random bytes in hex (delivery ids, trigger ids and secrets).
    public static func randomHex(bytes: Int = 16) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The hex HMAC-SHA256 of `message` keyed with `key` (webhook and push-event signatures).
    public static func hmacSHA256Hex(_ message: some DataProtocol, key: String) -> String {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(key.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Whether two secrets are equal, in time that does not depend on where they differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A short random identifier.
    public static func identifier() -> String {
        UUID().uuidString.lowercased()
    }
}
