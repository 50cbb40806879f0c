#include "wharf_memory.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void wharf_tune_malloc(int mmap_threshold, int trim_threshold, int arena_max) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
    mallopt(M_ARENA_MAX, arena_max);
#else
    (void)mmap_threshold;
    (void)trim_threshold;
    (void)arena_max;
#endif
}
