/* Text encodings for command output in JSON: UTF-8 validation and base64. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* True when buf is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF) and holds no NUL byte. */
bool utf8_valid(const char *buf, size_t len);
/* New NUL-terminated base64 (RFC 4648, padded) of buf; NULL on ENOMEM. */
char *base64_encode(const void *buf, size_t len);
/* Decodes padded base64 into a new buffer; NULL (errno EINVAL) when text
 * is not base64, ENOMEM otherwise. */
void *base64_decode(const char *text, size_t text_len, size_t *out_len);
