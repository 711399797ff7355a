#include "config.h"

/* The daemon's error type (wd-error.h) and its one errno table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wd-error.h"

const char *wd_status_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 429: return "capacity";
	case 503: return "unavailable";
	case 507: return "insufficient_storage";
	case 501: return "not_implemented";
	default: return "internal";
	}
}

static int errno_of(int status)
{
	switch (status) {
	case 400: return EINVAL;
	case 401:
	case 403: return EACCES;
	case 404: return ENOENT;
	case 409: return EBUSY;
	case 413: return EFBIG;
	case 429: return EAGAIN;
	case 503: return EAGAIN;
	case 507: return ENOSPC;
	case 501: return EOPNOTSUPP;
	default: return EIO;
	}
}

static int vfail(struct wd_error *e, int status, const char *code, const char *fmt, va_list ap)
{
	e->status = status;
	e->code = code;
	e->retry_after_s = status == 429 || status == 503 ? 1 : 0;
	vsnprintf(e->cause.message, sizeof e->cause.message, fmt, ap);
	e->cause.code = errno_of(status);
	return -e->cause.code;
}

int wd_fail(struct wd_error *e, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail(e, status, wd_status_code(status), fmt, ap);
	va_end(ap);
	return r;
}

int wd_fail_code(struct wd_error *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfail(e, status, code, fmt, ap);
	va_end(ap);
	return r;
}

/* What each errno means to a client: its mistake (4xx, and which), room
 * that ran out (507), or the daemon's trouble (503, 500). */
static int status_of_errno(int err)
{
	switch (err) {
	case ENOENT: return 404;
	case EFBIG: return 413;
	case ENOSPC:
	case EDQUOT:
	case ENOMEM: /* a writer charged to the sandbox was OOM-killed */
		return 507;
	case ETIMEDOUT:
	case EAGAIN: return 503;
	case EINVAL:
	case ENAMETOOLONG:
	case ELOOP:
	case ENOTDIR:
	case EISDIR:
	case EXDEV: return 400;
	case EACCES:
	case EPERM:
	case EROFS: /* docker: the engine followed a path the sandbox swapped out of the workspace */
		return 403;
	case ESTALE: /* the sandbox changed the path under a backend that checks then acts */
		return 409;
	default: return 500;
	}
}

int wd_from_errno(struct wd_error *e, int r, const wr_error *from)
{
	int err = r < 0 ? -r : r;
	int status = status_of_errno(err);
	e->status = status;
	e->code = wd_status_code(status);
	e->retry_after_s = status == 503 ? 1 : 0;
	if (status == 507)
		snprintf(e->cause.message, sizeof e->cause.message, "%s (files count against the session's memory: "
			 "limits.memory, and the workspace's size)", from && from->message[0] ? from->message : strerror(err));
	else
		snprintf(e->cause.message, sizeof e->cause.message, "%s", from && from->message[0] ? from->message : strerror(err));
	e->cause.code = err;
	return -err;
}
