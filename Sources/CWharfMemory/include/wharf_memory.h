#ifndef WHARF_MEMORY_H
#define WHARF_MEMORY_H

/// Fixes glibc's mmap threshold (so large freed buffers go back to the system) and caps the
/// number of malloc arenas. Does nothing on other C libraries.
void wharf_tune_malloc(int mmap_threshold, int arena_max);

#endif
