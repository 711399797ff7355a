/* Whole writes to a file descriptor. */
#pragma once
#include <stddef.h>

/* Writes all len bytes, retrying short writes and EINTR: 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
