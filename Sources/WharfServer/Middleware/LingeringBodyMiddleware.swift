import Hummingbird
import NIOCore

/// Answers sent before the request body was read (a 401 to an anonymous upload, a 413 to an
/// oversized manifest) must not leave the client hanging. A client that sends
/// `Connection: close` (Python's urllib, for one) writes its whole body before it reads the
/// answer, and the server closes only when the client does: neither moves. As nginx's lingering
/// close does, the rest of such a body is read and discarded, up to `limit` bytes, before the
/// answer goes out. Keep-alive clients read the answer while sending and are not held up.
struct LingeringBodyMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    /// The most bytes discarded for one request.
    let limit: Int

    init(limit: Int = 64 * 1024 * 1024) {
        self.limit = limit
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.connection]?.lowercased() == "close" else { return try await next(request, context) }
        let relay = BodyRelay(request.body)
        var request = request
        request.body = RequestBody(asyncSequence: relay.sequence)
        let response = try await next(request, context)
        var discarded = 0
        while discarded <= limit, let buffer = try? await relay.next() {
            discarded += buffer.readableBytes
        }
        return response
    }
}

/// One iterator over a request body, shared in turn by the handler and, after it returned, by
/// the middleware that discards what it left: `@unchecked Sendable` because the two never run at
/// the same time (the middleware reads only after `next` has returned).
final class BodyRelay: @unchecked Sendable {
    private let body: RequestBody
    private var iterator: RequestBody.AsyncIterator?
    private var finished = false

    init(_ body: RequestBody) {
        self.body = body
    }

    /// The next buffer of the body; nil at its end.
    func next() async throws -> ByteBuffer? {
        if finished { return nil }
        if iterator == nil { iterator = body.makeAsyncIterator() }
        let buffer = try await iterator!.next()
        if buffer == nil { finished = true }
        return buffer
    }

    /// The body as a sequence the handler reads from (once).
    var sequence: Sequence { Sequence(relay: self) }

    struct Sequence: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let relay: BodyRelay

        struct AsyncIterator: AsyncIteratorProtocol {
            let relay: BodyRelay
            func next() async throws -> ByteBuffer? { try await relay.next() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(relay: relay) }
    }
}
