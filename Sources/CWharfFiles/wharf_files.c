#define _GNU_SOURCE
#include "wharf_files.h"
#include <errno.h>
#include <fcntl.h>

int wharf_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    (void)offset;
    (void)length;
    return 0;
#endif
}

int wharf_open_direct_writer(const char *path) {
#if defined(O_DIRECT)
    return open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
#else
    (void)path;
    errno = EINVAL;
    return -1;
#endif
}
