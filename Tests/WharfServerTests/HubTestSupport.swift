import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WharfHub
@testable import WharfServer

/// Helpers for the Docker Hub API's route tests: JSON bodies, accounts and sessions.
enum HubTest {
    /// The response body as a JSON object (empty, with an issue recorded, when it is none).
    static func object(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] else {
            Issue.record("not a JSON object: \(String(buffer: response.body))", sourceLocation: sourceLocation)
            return [:]
        }
        return object
    }

    /// The `results` of a paged response.
    static func results(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        guard let results = object(response, sourceLocation: sourceLocation)["results"] as? [[String: Any]] else {
            Issue.record("no results: \(String(buffer: response.body))", sourceLocation: sourceLocation)
            return []
        }
        return results
    }

    /// Asserts Docker Hub's error shape and returns its message.
    @discardableResult
    static func hubError(_ response: TestResponse, _ status: HTTPResponse.Status,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        let body = object(response)
        let detail = try #require(body["detail"] as? String, sourceLocation: sourceLocation)
        #expect(body["message"] as? String == detail, sourceLocation: sourceLocation)
        return detail
    }

    /// Creates a user with password "\(name)-password".
    static func user(_ name: String, in dependencies: WharfDependencies) async throws {
        _ = try await dependencies.hub.accounts.createUser(username: name, email: nil, password: "\(name)-password")
    }

    /// Basic credentials of a user made by `user`.
    static func basic(_ name: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(name):\(name)-password".utf8).base64EncodedString()]
    }

    /// A session token from `POST /v2/users/login`.
    static func login(_ client: any TestClientProtocol, _ name: String, secret: String? = nil) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["username": name, "password": secret ?? "\(name)-password"])
        return try await client.execute(uri: "/v2/users/login", method: .post, body: ByteBuffer(bytes: body)) { response in
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            return try #require(object(response)["token"] as? String)
        }
    }

    /// A JSON body.
    static func body(_ object: [String: Any]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
    }

    /// Docker Hub's time format: ISO 8601, UTC, microseconds.
    static func isHubTime(_ value: Any?) -> Bool {
        guard let text = value as? String else { return false }
        return text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil
    }

    /// Whether every occurrence of `field` in the raw body is a JSON integer (not a float, string or boolean).
    static func isInteger(_ field: String, in response: TestResponse) -> Bool {
        let text = String(buffer: response.body)
        let all = text.ranges(of: "\"\(field)\":").count
        let integers = text.ranges(of: try! Regex("\"\(field)\":-?[0-9]+[,}]")).count
        return all > 0 && all == integers
    }
}
