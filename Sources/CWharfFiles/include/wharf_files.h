#ifndef WHARF_FILES_H
#define WHARF_FILES_H

#include <stdint.h>

/// Asks the kernel to start writing `length` bytes of `fd` from `offset` to disk now, without
/// waiting (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a later fsync has little left
/// to do. Returns 0, or -1 with errno set; does nothing and returns 0 where it is unavailable.
int wharf_start_writeback(int fd, int64_t offset, int64_t length);

/// Opens `path` for writing with direct I/O (`O_DIRECT`: page-aligned writes that bypass the page
/// cache). Returns the file descriptor, or -1 with errno set where direct I/O is unavailable.
int wharf_open_direct_writer(const char *path);

#endif
