import Foundation
import Synchronization

/// Page-aligned buffers for direct I/O, kept for reuse so each upload does not fault in fresh memory.
final class AlignedBufferPool: Sendable {
    static let shared = AlignedBufferPool(size: 2 << 20, alignment: 4096, keep: 4)

    let size: Int
    let alignment: Int
    private let keep: Int
    // Addresses of idle buffers (as integers: raw pointers are not Sendable).
    private let idle = Mutex<[UInt]>([])

    init(size: Int, alignment: Int, keep: Int) {
        self.size = size
        self.alignment = alignment
        self.keep = keep
    }

    /// A buffer of `size` bytes aligned to `alignment`; give it back with `release`.
    func take() -> UnsafeMutableRawPointer? {
        if let address = idle.withLock({ $0.popLast() }) { return UnsafeMutableRawPointer(bitPattern: address) }
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, alignment, size) == 0 else { return nil }
        return pointer
    }

    func release(_ buffer: UnsafeMutableRawPointer) {
        let kept = idle.withLock { idle in
            guard idle.count < keep else { return false }
            idle.append(UInt(bitPattern: buffer))
            return true
        }
        if !kept { free(buffer) }
    }
}
