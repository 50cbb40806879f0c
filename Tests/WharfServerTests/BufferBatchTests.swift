import NIOCore
import Testing
@testable import WharfServer

@Suite("Response buffer batches")
struct BufferBatchTests {
    private func buffer(_ byte: UInt8, _ count: Int) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: byte, count: count))
    }

    @Test("small buffers are gathered up to the threshold, in order; a big one passes at once; the rest drains")
    func batches() {
        var batch = BufferBatch(threshold: 100)
        #expect(batch.add(buffer(1, 40)) == nil)
        #expect(batch.add(buffer(2, 40)) == nil)
        let full = batch.add(buffer(3, 40))
        #expect(full?.map(\.readableBytes) == [40, 40, 40])
        #expect(full?.map { $0.getInteger(at: 0, as: UInt8.self) } == [1, 2, 3])
        #expect(batch.add(buffer(4, 500))?.map(\.readableBytes) == [500])
        #expect(batch.drain() == nil)
        #expect(batch.add(buffer(5, 10)) == nil)
        #expect(batch.drain()?.map(\.readableBytes) == [10])
        #expect(batch.drain() == nil)
    }
}
