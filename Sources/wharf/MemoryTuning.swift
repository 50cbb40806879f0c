import CWharfMemory

/// Keeps the server's memory flat while it streams large blobs, without faulting in fresh memory
/// for every piece.
///
/// glibc raises its mmap threshold dynamically after large buffers are freed, and then lets
/// freed memory linger in its arenas (tens of MiB during a fast 2 GiB pull). Fixed thresholds keep
/// it predictable: buffers up to 4 MiB (the 1 MiB pieces of blob reads, network buffers) come
/// from the heap and are reused hot instead of being mapped, zeroed and unmapped each time; up
/// to 16 MiB of free heap is kept before memory is returned to the system; two arenas bound
/// per-thread caching.
enum MemoryTuning {
    static func apply() {
        wharf_tune_malloc(4 << 20, 16 << 20, 2)
    }
}
