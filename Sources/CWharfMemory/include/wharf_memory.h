#ifndef WHARF_MEMORY_H
#define WHARF_MEMORY_H

/// Fixes glibc's mmap threshold (allocations above it get their own mappings, returned to the
/// system when freed), its trim threshold (free heap memory kept for reuse before it is returned)
/// and caps the number of malloc arenas. Does nothing on other C libraries.
void wharf_tune_malloc(int mmap_threshold, int trim_threshold, int arena_max);

#endif
