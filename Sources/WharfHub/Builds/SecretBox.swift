import Crypto
import Foundation
import WharfMetadata

/// Seals secrets the hub must read back (git credentials, build-trigger secrets) with AES-GCM,
/// under a key kept in the database's server secrets, so every replica can open them and a copy
/// of a table alone reveals nothing.
struct SecretBox: Sendable {
    let key: SymmetricKey

    /// The box with the installation's key (made on first use).
    static func open(_ stores: Stores) async throws -> SecretBox {
        let encoded = try await stores.secrets.obtain("build-secrets-key") {
            SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        }
        guard let raw = Data(base64Encoded: encoded), raw.count == 32 else { throw SecretBoxError() }
        return SecretBox(key: SymmetricKey(data: raw))
    }

    func seal(_ text: String) throws -> String {
        guard let combined = try AES.GCM.seal(Data(text.utf8), using: key).combined else { throw SecretBoxError() }
        return combined.base64EncodedString()
    }

    func unseal(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw SecretBoxError() }
        return String(decoding: try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key), as: UTF8.self)
    }
}

/// A sealed secret that cannot be opened (another installation's key, or damaged).
struct SecretBoxError: Error, CustomStringConvertible {
    var description: String { "a sealed secret cannot be opened" }
}
