import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// Receives an object's body on the HTTP client's event loop and hands it to one async reader
/// in batches of about `batchSize` bytes (a list of the buffers as they came: nothing is copied).
///
/// The client reads the socket in pieces of whatever has arrived (often far less than its 1 MiB
/// buffers); handing each to a task on another thread costs a wake-up, which at S3 speeds is a
/// large share of the work. Batches cut them to one per `batchSize`. Backpressure: once `readyLimit`
/// batches wait for the reader, the client stops reading from the socket until the reader takes
/// one, so memory stays bounded at about `(readyLimit + 1) × (batchSize + 1 MiB)`.
final class S3BodyReader: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    private struct State {
        var status: Int?
        var gathering: [ByteBuffer] = []
        var gatheredBytes = 0
        var ready: [[ByteBuffer]] = []
        var finished = false
        var failure: (any Error)?
        /// The start of an error response's body, for the message.
        var errorText = ByteBuffer()
        var reader: CheckedContinuation<[ByteBuffer]?, any Error>?
        var producer: EventLoopPromise<Void>?
        /// Bytes of the response so far (the head counts as one), and at the last `stalled()` check.
        var progress = 0
        var checkedProgress = -1
    }

    private let state = Mutex(State())
    private let batchSize: Int
    private let readyLimit: Int
    private let accepted: Set<Int>
    private let operation: String

    init(batchSize: Int = 1 << 20, readyLimit: Int = 2, accepted: Set<Int>, operation: String) {
        self.batchSize = batchSize
        self.readyLimit = readyLimit
        self.accepted = accepted
        self.operation = operation
    }

    /// Whether nothing came since the last call while the response was wanted (not held back
    /// because the reader is behind, not finished). The first call only starts the count.
    func stalled() -> Bool {
        state.withLock { state in
            defer { state.checkedProgress = state.progress }
            return state.progress == state.checkedProgress && state.producer == nil && !state.finished
        }
    }

    /// Ends the response with `error` (ignored once it ended).
    func failed(_ error: any Error) {
        end(failure: error)
    }

    /// The next batch; nil at the end of the body. Throws what the request failed with.
    func next() async throws -> [ByteBuffer]? {
        try await withCheckedThrowingContinuation { continuation in
            let (outcome, producer): (Result<[ByteBuffer]?, any Error>?, EventLoopPromise<Void>?) = state.withLock { state in
                if !state.ready.isEmpty {
                    let batch = state.ready.removeFirst()
                    let producer = state.ready.count < readyLimit ? state.producer : nil
                    if producer != nil { state.producer = nil }
                    return (.success(batch), producer)
                }
                if let failure = state.failure { return (.failure(failure), nil) }
                if state.finished { return (.success(nil), nil) }
                state.reader = continuation
                return (nil, nil)
            }
            producer?.succeed()
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { state in
            state.status = Int(head.status.code)
            state.progress += 1
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let (handOver, wait): ((CheckedContinuation<[ByteBuffer]?, any Error>, [ByteBuffer])?, EventLoopPromise<Void>?) = state.withLock { state in
            state.progress += buffer.readableBytes
            guard let status = state.status, accepted.contains(status) else {
                if state.errorText.readableBytes < 64 * 1024 {
                    var part = buffer
                    state.errorText.writeBuffer(&part)
                }
                return (nil, nil)
            }
            state.gathering.append(buffer)
            state.gatheredBytes += buffer.readableBytes
            guard state.gatheredBytes >= batchSize else { return (nil, nil) }
            let batch = state.gathering
            state.gathering = []
            state.gatheredBytes = 0
            if let reader = state.reader {
                // The reader waits only when nothing is ready: this batch is the next.
                state.reader = nil
                return ((reader, batch), nil)
            }
            state.ready.append(batch)
            guard state.ready.count >= readyLimit else { return (nil, nil) }
            let promise = task.eventLoop.makePromise(of: Void.self)
            state.producer = promise
            return (nil, promise)
        }
        if let (reader, batch) = handOver { reader.resume(returning: batch) }
        return wait?.futureResult ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        failed(error)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        let failure: S3Error? = state.withLock { state in
            guard let status = state.status, !accepted.contains(status) else { return nil }
            return S3Error.status(status, operation, String(buffer: state.errorText))
        }
        end(failure: failure)
    }

    /// The body is complete (or failed): what was gathered becomes the last batch, a waiting
    /// reader is answered and a waiting producer released.
    private func end(failure: (any Error)?) {
        let (reader, outcome, producer): (CheckedContinuation<[ByteBuffer]?, any Error>?, Result<[ByteBuffer]?, any Error>, EventLoopPromise<Void>?) =
            state.withLock { state in
                if state.finished { return (nil, .success(nil), nil) }
                if let failure {
                    if state.failure == nil { state.failure = failure }
                } else if !state.gathering.isEmpty {
                    state.ready.append(state.gathering)
                    state.gathering = []
                    state.gatheredBytes = 0
                }
                state.finished = true
                let producer = state.producer
                state.producer = nil
                guard let reader = state.reader else { return (nil, .success(nil), producer) }
                state.reader = nil
                if let failure = state.failure { return (reader, .failure(failure), producer) }
                return (reader, .success(state.ready.isEmpty ? nil : state.ready.removeFirst()), producer)
            }
        producer?.succeed()
        reader?.resume(with: outcome)
    }
}
