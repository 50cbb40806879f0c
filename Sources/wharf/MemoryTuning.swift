import CWharfMemory

/// Keeps the server's memory flat while it streams large blobs.
///
/// glibc raises its mmap threshold dynamically after large buffers are freed, after which
/// the 1 MiB pieces of blob reads and writes are carved from the heap arenas and their memory
/// lingers (tens of MiB during a fast 2 GiB pull). A fixed threshold keeps such buffers in
/// their own mappings, returned to the system when freed; two arenas bound per-thread caching.
enum MemoryTuning {
    static func apply() {
        wharf_tune_malloc(256 * 1024, 2)
    }
}
