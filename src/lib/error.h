/* One error object carried out of every library call (after crun's
 * libcrun_error_t): functions return 0 or -errno and, where the failure is
 * understood, attach one message naming the path, syscall or value. */
#pragma once
#include <errno.h>
#include <stdarg.h>

typedef struct wr_error {
	int code;          /* positive errno, 0 when the message is the whole story */
	char message[512]; /* "mount /proc: Permission denied" */
} wr_error;

/* Sets the message from a printf format and, when code != 0, appends
 * ": strerror(code)". Returns -code (or -EINVAL when code is 0) so callers
 * can write `return wr_error_set(e, errno, "open %s", path);`. A NULL e is
 * allowed and only returns the code. */
int wr_error_set(wr_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like wr_error_set but the message is prefixed to the one already in e:
 * "policy.json: " + "limits.memory: expected …". Returns the stored code. */
int wr_error_prefix(wr_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void wr_error_clear(wr_error *e);
