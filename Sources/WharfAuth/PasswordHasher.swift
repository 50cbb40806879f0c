import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing, run on NIO's thread pool so it never blocks request handling.
///
/// bcrypt reads at most 72 bytes: a longer password (72 characters can be up to 288 bytes of
/// UTF-8) is first reduced to the base64 of its SHA-256, so that every character counts. Shorter
/// passwords are hashed as they are, as they always were.
public struct PasswordHasher: Sendable {
    /// The bcrypt cost; each step doubles the work.
    public let cost: UInt8

    public init(cost: UInt8 = 10) {
        self.cost = cost
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        let input = Self.bcryptInput(password)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(input, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        let input = Self.bcryptInput(password)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(input, hash: hash) }
    }

    /// What bcrypt is given for `password`.
    static func bcryptInput(_ password: String) -> String {
        guard password.utf8.count > 72 else { return password }
        return Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
