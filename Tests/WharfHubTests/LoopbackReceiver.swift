import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on 127.0.0.1 that records every request it gets and answers with the
/// status the test chooses (200 unless told otherwise): the receiving end of webhooks.
final class LoopbackReceiver: Sendable {
    struct Received: Sendable {
        let path: String
        let headers: [String: String]
        let body: String
    }

    private let channel: any Channel
    private let state: State

    final class State: Sendable {
        let received = Mutex<[Received]>([])
        /// Statuses for the next requests, in order; afterwards `standing`.
        let statuses = Mutex<[Int]>([])
        let standing = Mutex<Int>(200)
        let extraHeaders = Mutex<[(String, String)]>([])

        func next() -> Int {
            statuses.withLock { queued in queued.isEmpty ? standing.withLock { $0 } : queued.removeFirst() }
        }
    }

    /// Starts listening on `host` (a free port).
    static func start(host: String = "127.0.0.1") async throws -> LoopbackReceiver {
        let state = State()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(state: state))
                }
            }
            .bind(host: host, port: 0).get()
        return LoopbackReceiver(channel: channel, state: state)
    }

    private init(channel: any Channel, state: State) {
        self.channel = channel
        self.state = state
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(port)\(path)" }
    var received: [Received] { state.received.withLock { $0 } }

    /// Answers `status` from now on.
    func answer(_ status: Int, headers: [(String, String)] = []) {
        state.standing.withLock { $0 = status }
        state.extraHeaders.withLock { $0 = headers }
    }

    /// Answers these statuses to the next requests, then the standing one.
    func answerNext(_ statuses: [Int]) {
        state.statuses.withLock { $0 += statuses }
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // Only touched on the channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let state: State
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(state: State) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                guard let head else { return }
                let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
                state.received.withLock { $0.append(Received(path: head.uri, headers: headers, body: String(buffer: body))) }
                let status = state.next()
                var responseHeaders = HTTPHeaders([("Content-Length", "8"), ("Connection", "close")])
                for (name, value) in state.extraHeaders.withLock({ $0 }) { responseHeaders.add(name: name, value: value) }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status),
                                                                    headers: responseHeaders))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "received")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}
