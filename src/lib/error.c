#include "config.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

int wr_error_set(wr_error *e, int code, const char *fmt, ...)
{
	if (code < 0)
		code = -code;
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(e->message, sizeof e->message, fmt, ap);
		va_end(ap);
		if (code != 0 && n >= 0 && (size_t)n < sizeof e->message)
			snprintf(e->message + n, sizeof e->message - (size_t)n, ": %s", strerror(code));
		e->code = code;
	}
	return code ? -code : -EINVAL;
}

int wr_error_prefix(wr_error *e, const char *fmt, ...)
{
	if (!e)
		return -EINVAL;
	char prefix[256], old[sizeof e->message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	snprintf(old, sizeof old, "%s", e->message);
	snprintf(e->message, sizeof e->message, "%s%s", prefix, old);
	return e->code ? -e->code : -EINVAL;
}

void wr_error_clear(wr_error *e)
{
	if (e) {
		e->code = 0;
		e->message[0] = '\0';
	}
}
