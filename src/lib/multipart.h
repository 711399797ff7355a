/* multipart/form-data (RFC 7578) bodies, as browsers and requests send
 * them: the compatibility /upload_file route reads its fields with it.
 * Pure: pointers point into the caller's body; nothing is allocated. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct multipart_part {
	const char *name;        /* the form field's name (not NUL-terminated) */
	size_t name_len;
	const char *filename;    /* NULL when the part has no filename */
	size_t filename_len;
	const char *data;
	size_t len;
};

/* Splits body by the boundary named in content_type ("multipart/form-data;
 * boundary=…", possibly quoted). At most max_parts parts; more is -E2BIG.
 * Malformed input is -EINVAL with a message. */
int multipart_parse(const char *content_type, size_t content_type_len, const char *body, size_t len,
		    struct multipart_part *parts, size_t max_parts, size_t *n_parts, wr_error *e);
