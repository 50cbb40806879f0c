import NIOCore

/// Gathers the buffers a blob is read in until they add up to `threshold` bytes, so that a
/// response writes them in one go: one hop to the connection's event loop and one flush (a single
/// `writev`) per batch instead of per buffer. Object stores answer in the HTTP client's small
/// reads (16–64 KiB); files are already read in pieces of 1 MiB, which pass straight through.
/// Nothing is copied.
struct BufferBatch {
    let threshold: Int
    private var buffers: [ByteBuffer] = []
    private var bytes = 0

    init(threshold: Int = 1 << 20) {
        self.threshold = threshold
    }

    /// Adds `buffer`; returns the batch when it has reached the threshold (and starts a new one).
    mutating func add(_ buffer: ByteBuffer) -> [ByteBuffer]? {
        buffers.append(buffer)
        bytes += buffer.readableBytes
        return bytes >= threshold ? drain() : nil
    }

    /// What is gathered and not yet returned (nil when nothing is).
    mutating func drain() -> [ByteBuffer]? {
        guard !buffers.isEmpty else { return nil }
        defer {
            buffers.removeAll(keepingCapacity: true)
            bytes = 0
        }
        return buffers
    }
}
