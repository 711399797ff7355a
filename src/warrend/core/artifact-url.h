/* The signed URLs of artifacts: GET /v1/artifacts/{id}/{name} with an
 * expiry and an HMAC-SHA256 signature over (id, name, expiry), so a URL
 * can be handed to a browser or another service without the bearer
 * token, and nobody can change what it names or how long it lives. Pure
 * functions of the key (no state, no I/O), unit tested; artifacts.c holds
 * the key. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARTIFACT_KEY_LEN 32
#define ARTIFACT_ID_LEN 32          /* hex digits */
#define ARTIFACT_NAME_MAX 255       /* bytes of a name (one file name) */
#define ARTIFACT_URL_PREFIX "/v1/artifacts/"
/* Room for the longest signed path: every name byte escaped. */
#define ARTIFACT_PATH_MAX (sizeof(ARTIFACT_URL_PREFIX) + ARTIFACT_ID_LEN + 1 + 3 * ARTIFACT_NAME_MAX + 128)

/* "/v1/artifacts/ID/NAME?expires=T&signature=HEX": NAME percent-encoded
 * (all but RFC 3986's unreserved characters), T in seconds since the
 * epoch. 0, or -ENAMETOOLONG / -EINVAL (a name with "/" or none). */
int artifact_url_sign(const uint8_t key[ARTIFACT_KEY_LEN], const char *id, const char *name, int64_t expires,
		      char *out, size_t len);

/* What a refused URL is answered (403), wherever it is refused. */
#define ARTIFACT_URL_BAD_WHY "this artifact URL is not valid: it was altered, or signed with another key"
#define ARTIFACT_URL_EXPIRED_WHY "this artifact URL has expired"

enum artifact_url_verdict {
	ARTIFACT_URL_OK,
	ARTIFACT_URL_NOT_OURS,   /* not a path below /v1/artifacts/ */
	ARTIFACT_URL_BAD,        /* malformed, unsigned, or a signature that does not match */
	ARTIFACT_URL_EXPIRED,    /* signed, and past its expiry */
};

struct artifact_url {
	char id[ARTIFACT_ID_LEN + 1];
	char name[ARTIFACT_NAME_MAX + 1];
	int64_t expires;
};

/* Reads a request target as the client sent it (path and query, nothing
 * decoded yet). The signature is checked first, in constant time, and
 * only then the expiry against `now` (seconds since the epoch). */
enum artifact_url_verdict artifact_url_check(const uint8_t key[ARTIFACT_KEY_LEN], const char *target, size_t len,
					     int64_t now, struct artifact_url *out);
