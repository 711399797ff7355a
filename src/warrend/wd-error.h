/* The daemon's one error type, carried from the library and the core up
 * to the front ends: the HTTP status a front end answers, a machine code,
 * and the wr_error it came from (its errno and its message). Functions
 * return 0 or -errno and fill one of these, as the library fills a
 * wr_error. */
#pragma once
#include <stdbool.h>

#include "error.h"

struct wd_error {
	int status;                 /* 400, 404, 429, 503 … */
	const char *code;           /* "bad_request", "not_found", "capacity" … (static) */
	unsigned retry_after_s;     /* 429 and 503: when a client may try again */
	wr_error cause;             /* the message; cause.code the errno, 0 when none */
};

/* Sets status, its code and a message; returns a -errno that fits the
 * status (-EINVAL for 400, -ENOENT for 404, -EAGAIN for 429 …). */
int wd_fail(struct wd_error *e, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with a code other than the status's own ("method_not_allowed"). */
int wd_fail_code(struct wd_error *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The errno -> status table, once for the whole daemon: -r (an errno
 * returned by the library or a file exec) and the message it came with. */
int wd_from_errno(struct wd_error *e, int r, const wr_error *from);
/* The machine code of a status: 400 bad_request, 404 not_found … */
const char *wd_status_code(int status);
