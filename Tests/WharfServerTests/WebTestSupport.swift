import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import WharfServer

/// A browser for route tests: keeps the cookies the site sets and fills in form tokens.
final class WebBrowser: @unchecked Sendable {
    // Used from one test task at a time.
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    /// The `Set-Cookie` headers of the last response.
    private(set) var lastSetCookies: [String] = []

    init(_ client: any TestClientProtocol) { self.client = client }

    struct Page {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let html: String

        /// The form token of the first form on the page.
        var formToken: String? {
            guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
            return String(html[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> Page {
        try await send(uri, method: .get, headers: headers, body: nil)
    }

    /// Submits a form; `csrf` is the page's token unless given (nil: leave it out).
    func post(_ uri: String, _ fields: [String: String], headers: HTTPFields = [:]) async throws -> Page {
        let body = fields.map { "\(WebPaths.encode($0.key))=\(Self.formEncode($0.value))" }.joined(separator: "&")
        var headers = headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await send(uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// The form token a GET of `uri` shows.
    func token(from uri: String) async throws -> String {
        try #require(try await get(uri).formToken, "no form on \(uri)")
    }

    private static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func send(_ uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> Page {
        var headers = headers
        if !cookies.isEmpty, headers[.cookie] == nil {
            headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) { [self] response in
            lastSetCookies = response.headers[values: .setCookie]
            for cookie in lastSetCookies {
                let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                guard let name = pair.first.map(String.init) else { continue }
                let value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return Page(status: response.status, headers: response.headers, html: String(buffer: response.body))
        }
    }

    func forgetCookies() { cookies = [:] }
    func setCookie(_ name: String, _ value: String) { cookies[name] = value }
}

extension WebBrowser {
    /// Signs up through the form (which logs in).
    func signUp(_ name: String) async throws {
        let token = try await token(from: "/signup")
        let page = try await post("/signup", ["csrf": token, "username": name, "email": "\(name)@example.com", "password": "\(name)-password"])
        #expect(page.status == .seeOther, "sign-up of \(name) failed: \(page.html.prefix(300))")
    }

    func logIn(_ name: String, password: String? = nil) async throws -> Page {
        let token = try await token(from: "/login")
        return try await post("/login", ["csrf": token, "username": name, "password": password ?? "\(name)-password"])
    }
}
