import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import WharfServer

/// The JSON API answers every mistake in its own shape, with the status its document names.
@Suite("JSON API errors")
struct APIErrorRouteTests {
    struct Message: Decodable { let message: String; let field: String? }

    func message(_ response: TestResponse) throws -> Message {
        try JSONDecoder().decode(Message.self, from: Data(buffer: response.body))
    }

    @Test("a known path with a method it does not answer is 405 with Allow; an unknown path is 404")
    func methodNotAllowed() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/api/user", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, PATCH")
                let parsed = try message(response)
                #expect(parsed.message.contains("GET, PATCH"))
            }
            try await client.execute(uri: "/api/repositories/root/app/collaborators/someone", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "DELETE, PUT")
            }
            try await client.execute(uri: "/api/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.allow] == nil)
            }
        }
    }

    @Test("null for a field the operation reads is refused naming it; unknown fields are ignored")
    func nulls() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/api/admin/users/root", method: .put, body: ByteBuffer(string: #"{"disabled":null,"is_admin":true}"#)) { response in
                #expect(response.status == .unprocessableContent)
                let parsed = try message(response)
                #expect(parsed.field == "disabled")
            }
            try await client.execute(uri: "/api/admin/users/root", method: .put, body: ByteBuffer(string: #"{"extra":null,"is_admin":true}"#)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("a body that is not a JSON object is a 400 that says so")
    func notAnObject() async throws {
        try await TestRegistry().run { client in
            for body in ["[1,2]", "\"text\"", "{nope"] {
                try await client.execute(uri: "/api/tokens", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest)
                    let parsed = try message(response)
                    #expect(parsed.message.contains("JSON"))
                }
            }
        }
    }

    @Test("repository names: the namespace is an account name and the name one component that fits")
    func repositoryNames() async throws {
        try await TestRegistry().run { client in
            let cases: [(String, String)] = [
                (#"{"namespace":"root","name":"a/b"}"#, "name"),
                (#"{"namespace":"a","name":"app"}"#, "namespace"),
                (#"{"namespace":"root","name":"\#(String(repeating: "x", count: 225))"}"#, "name"),
            ]
            for (body, field) in cases {
                try await client.execute(uri: "/api/repositories", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .unprocessableContent, "\(body)")
                    let parsed = try message(response)
                    #expect(parsed.field == field)
                }
            }
            let longest = #"{"namespace":"root","name":"\#(String(repeating: "x", count: 224))"}"#
            try await client.execute(uri: "/api/repositories", method: .post, body: ByteBuffer(string: longest)) { #expect($0.status == .created) }
        }
    }

    @Test("a user named in the path who does not exist is 404")
    func missingUserInPath() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/api/repositories", method: .post, body: ByteBuffer(string: #"{"namespace":"root","name":"app"}"#)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/api/repositories/root/app/collaborators/nobody", method: .put,
                                     body: ByteBuffer(string: #"{"permission":"read"}"#)) { #expect($0.status == .notFound) }
        }
    }
}
