import AsyncHTTPClient
import Foundation
import NIOCore
import WharfCore

/// One POST to a webhook receiver.
public struct WebhookRequest: Sendable {
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: String
}

/// What came of one POST.
public struct WebhookResult: Sendable, Equatable {
    /// The receiver's status; nil when no response came.
    public var statusCode: Int?
    /// What went wrong, in words; nil for a 2xx.
    public var error: String?
    /// The start of the response body.
    public var excerpt: String
    /// The request was not sent because its address is refused: retrying cannot help.
    public var refused: Bool

    public var succeeded: Bool { error == nil }

    public init(statusCode: Int?, error: String?, excerpt: String = "", refused: Bool = false) {
        self.statusCode = statusCode
        self.error = error
        self.excerpt = excerpt
        self.refused = refused
    }
}

/// Sends webhook requests: the hub's one seam for outgoing HTTP.
public protocol WebhookTransport: Sendable {
    func post(_ request: WebhookRequest, timeout: Double) async -> WebhookResult
}

/// Sends over HTTP(S) with async-http-client, to the address the address policy vetted (the
/// connection goes to that very address, so a DNS answer that changes between check and connect
/// cannot smuggle in a private one), following no redirects.
public struct HTTPWebhookTransport: WebhookTransport {
    let policy: WebhookAddressPolicy
    /// Bytes of the response body kept for the delivery log.
    static let excerptLimit = 1024

    public init(policy: WebhookAddressPolicy) {
        self.policy = policy
    }

    public func post(_ request: WebhookRequest, timeout: Double) async -> WebhookResult {
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            return WebhookResult(statusCode: nil, error: "refused: \(request.url) is not an http or https URL", refused: true)
        }
        let address: [UInt8]
        do {
            address = try await policy.vet(host: host, timeout: timeout)
        } catch let error as WebhookAddressError {
            return WebhookResult(statusCode: nil, error: "refused: \(error)", refused: true)
        } catch {
            return WebhookResult(statusCode: nil, error: "\(error)")
        }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(timeout * 1000)), read: .milliseconds(Int64(timeout * 1000)))
        )
        let bare = WebhookAddressPolicy.bareHost(host)
        if IPNetwork.bytes(bare) == nil { configuration.dnsOverride = [bare: IPNetwork(address: address).description] }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let result = await send(request, with: client, timeout: timeout)
        try? await client.shutdown()
        return result
    }

    private func send(_ request: WebhookRequest, with client: HTTPClient, timeout: Double) async -> WebhookResult {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = .POST
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        outgoing.body = .bytes(ByteBuffer(string: request.body))
        do {
            let response = try await client.execute(outgoing, timeout: .milliseconds(Int64(timeout * 1000)))
            var excerpt = ByteBuffer()
            for try await chunk in response.body {
                var chunk = chunk
                if let bytes = chunk.readSlice(length: min(chunk.readableBytes, Self.excerptLimit - excerpt.readableBytes)) {
                    excerpt.writeImmutableBuffer(bytes)
                }
                if excerpt.readableBytes >= Self.excerptLimit { break }
            }
            let text = String(decoding: excerpt.readableBytesView, as: UTF8.self)
            let status = Int(response.status.code)
            switch status {
            case 200..<300:
                return WebhookResult(statusCode: status, error: nil, excerpt: text)
            case 300..<400:
                let location = response.headers.first(name: "location").map { " to \($0)" } ?? ""
                return WebhookResult(statusCode: status, error: "the receiver redirected\(location); redirects are not followed", excerpt: text)
            default:
                return WebhookResult(statusCode: status, error: "the receiver answered \(status)", excerpt: text)
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return WebhookResult(statusCode: nil, error: "no answer within \(Self.seconds(timeout)) seconds")
        } catch {
            return WebhookResult(statusCode: nil, error: "\(error)")
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
