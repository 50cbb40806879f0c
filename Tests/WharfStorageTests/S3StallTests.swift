import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import WharfStorage

/// A GET's watchdog: a response that stops coming is ended, one held back by its reader is not.
@Suite("S3 reads that stall")
struct S3StallTests {
    /// An HTTP server that answers every request with `answer` and then goes silent, keeping
    /// the connection open.
    final class SilentServer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: String

        init(answer: String) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answer.isEmpty else { return }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }

        /// Serves until `body` returns.
        static func serving<T>(_ answer: String, _ body: (Int) async throws -> T) async throws -> T {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SilentServer(answer: answer)) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            defer { server.close(promise: nil) }
            return try await body(try #require(server.localAddress?.port))
        }
    }

    func client(port: Int) throws -> S3Client {
        S3Client(location: try S3Location(url: "s3://bucket/prefix?endpoint=http://127.0.0.1:\(port)&path_style=true",
                                          environment: ["AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret"]),
                 stallCheck: .milliseconds(200))
    }

    @Test("a fake server that goes silent mid-body or before its head: the read ends with an error (a stall cannot be caused on the real store)",
          arguments: ["mid-body", "before its head"])
    func silentServer(when: String) async throws {
        let answer = when == "mid-body" ? "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "x", count: 1000) : ""
        try await SilentServer.serving(answer) { port in
            let started = ContinuousClock.now
            var received = 0
            let error = await #expect(throws: S3Error.self) {
                try await client(port: port).get("blob", range: nil) { received += $0.readableBytes }
            }
            #expect(error?.description.contains("no progress") == true)
            #expect(received <= 1000)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("a read held back by a slow reader is not a stall: every byte arrives",
          .enabled(if: testS3Location(prefix: "probe") != nil, "no S3 store for the tests (WHARF_TEST_S3_URL)"))
    func slowReader() async throws {
        let location = try #require(testS3Location(prefix: "stall-\(UUID().uuidString.lowercased())"))
        let content = (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 9) }
        try await S3Driver(location: location).put("blobs/slow", from: StorageDriverConformance.stream([content]))
        let client = S3Client(location: location, stallCheck: .milliseconds(100))
        var got: [UInt8] = []
        var pieces = 0
        try await client.get(location.objectKey("blobs/slow"), range: nil) { buffer in
            pieces += 1
            if pieces % 4 == 0 { try await Task.sleep(for: .milliseconds(300)) }
            got += Array(buffer: buffer)
        }
        #expect(got == content)
    }
}
