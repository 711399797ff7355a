/* Text encodings for command output in JSON: UTF-8 validation,
 * the choice between a JSON string and base64, and base64. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when buf is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF) and holds no NUL byte. */
bool utf8_valid(const char *buf, size_t len);
/* A new NUL-terminated copy of buf as well-formed UTF-8 for text-only
 * consumers (MCP's text content): each byte that does not start a
 * well-formed character becomes U+FFFD; NUL bytes are kept. NULL on
 * ENOMEM. */
char *utf8_lossy(const char *buf, size_t len, size_t *out_len);
/* Whether command output goes into JSON as base64 rather than a string:
 * when it is not valid UTF-8 (or holds NUL), or when it is control-heavy:
 * the control characters JSON writes as 6-byte \u00XX escapes (those
 * below 0x20 other than \b \t \n \f \r) would make the string more
 * than 1.5 times the output's size, i.e. more than 1 byte in 10 is one.
 * (A flood of such bytes would otherwise grow 6 times; base64 grows 4/3.) */
bool output_needs_base64(const char *buf, size_t len);
/* The same answer for output that arrives in pieces (a piece may end
 * inside a character): feed each piece, ask at the end. Zero-initialize. */
struct output_scan {
	uint64_t len, escapes;
	bool invalid;
	unsigned char carry[4];   /* a character cut off by the last piece */
	size_t carry_len;
};
void output_scan_feed(struct output_scan *s, const char *buf, size_t len);
bool output_scan_needs_base64(const struct output_scan *s);
/* The value of a hex digit of either case, or -1. */
int hex_value(int c);
/* len bytes as 2 * len lowercase hex digits, then a NUL, into out. */
void hex_encode(const void *buf, size_t len, char *out);
/* New NUL-terminated base64 (RFC 4648, padded) of buf; NULL on ENOMEM. */
char *base64_encode(const void *buf, size_t len);
/* Decodes padded base64 into a new buffer; NULL (errno EINVAL) when text
 * is not base64, ENOMEM otherwise. */
void *base64_decode(const char *text, size_t text_len, size_t *out_len);
