import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing, run on NIO's thread pool so it never blocks request handling.
public struct PasswordHasher: Sendable {
    /// The bcrypt cost; each step doubles the work.
    public let cost: UInt8

    public init(cost: UInt8 = 10) {
        self.cost = cost
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
