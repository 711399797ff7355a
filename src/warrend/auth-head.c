#include "config.h"

/* The first request of a connection on a listener that wants a token,
 * examined before h2o reads it (see http-gate.c). HTTP/1 heads are parsed
 * with h2o's own picohttpparser, HTTP/2 header blocks with h2o's own HPACK
 * decoder, so the gate reads a request exactly as h2o will. */
#include <string.h>
#include <strings.h>

#include <h2o.h>
#include <h2o/cache_digests.h>
#include <h2o/version.h>

#include "auth.h"
#include "auth-head.h"

/* Exported by libh2o 2.2 but not declared by the headers Debian ships:
 * picohttpparser.h is not installed, and h2o/http2_internal.h includes the
 * undistributed khash.h. These are copied from h2o 2.2.5. */
#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "auth-head.c declares internals of h2o 2.2: check them against this version"
#endif
struct phr_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
		      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
		      size_t last_len);
typedef struct st_h2o_hpack_header_table_t {
	struct st_h2o_hpack_header_table_entry_t *entries;
	size_t num_entries, entry_capacity, entry_start_index;
	size_t hpack_size;
	size_t hpack_capacity;
	size_t hpack_max_capacity;
} h2o_hpack_header_table_t;
void h2o_hpack_dispose_header_table(h2o_hpack_header_table_t *header_table);
int h2o_hpack_parse_headers(h2o_req_t *req, h2o_hpack_header_table_t *header_table, const uint8_t *src, size_t len,
			    int *pseudo_header_exists_map, size_t *content_length, h2o_cache_digests_t **digests,
			    const char **err_desc);

#define MAX_HEADERS 100 /* h2o's H2O_MAX_HEADERS: a head with more is refused by h2o too */
#define FRAME_HEADER 9
#define MAX_FRAME 16384 /* SETTINGS_MAX_FRAME_SIZE h2o announces */
#define HPACK_TABLE 4096 /* SETTINGS_HEADER_TABLE_SIZE's default */
enum { FRAME_HEADERS = 1, FRAME_PRIORITY = 2, FRAME_SETTINGS = 4, FRAME_PING = 6, FRAME_WINDOW_UPDATE = 8,
       FRAME_CONTINUATION = 9 };
enum { FLAG_END_HEADERS = 0x4, FLAG_PADDED = 0x8, FLAG_PRIORITY = 0x20 };

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(preface) - 1)

static void verdict(struct head_result *out, enum head_verdict v, const char *why)
{
	out->verdict = v;
	out->why = why;
}

/* The values of the headers that may carry credentials. */
struct head_creds {
	enum head_credentials kind;
	const char *authorization, *api_key, *access_token;
	size_t authorization_len, api_key_len, access_token_len;
};

/* The first of each, as h2o_find_header finds it for the handlers. */
static void note_header(struct head_creds *c, const char *name, size_t name_len, const char *value, size_t len)
{
	if (name_len == 13 && !strncasecmp(name, "authorization", 13) && !c->authorization)
		c->authorization = value, c->authorization_len = len;
	else if (name_len == 9 && !strncasecmp(name, "x-api-key", 9) && !c->api_key)
		c->api_key = value, c->api_key_len = len;
	else if (((name_len == 14 && !strncasecmp(name, "x-access-token", 14)) ||
		  (name_len == 24 && !strncasecmp(name, "e2b-traffic-access-token", 24))) && !c->access_token)
		c->access_token = value, c->access_token_len = len;
}

static void judge_e2b(struct head_result *out, const struct head_creds *c)
{
	if (c->api_key && auth_owner(c->api_key, c->api_key_len))
		verdict(out, HEAD_AUTHORIZED, NULL);
	else if (c->access_token && auth_sandbox_secret_valid(c->access_token, c->access_token_len))
		verdict(out, HEAD_AUTHORIZED, NULL);
	else if (c->api_key)
		verdict(out, HEAD_UNAUTHORIZED, "invalid API key (X-API-KEY): use a warrend token");
	else if (c->access_token)
		verdict(out, HEAD_UNAUTHORIZED, "invalid access token: the sandbox ended or the token is another's");
	else
		verdict(out, HEAD_UNAUTHORIZED, "send the API key in X-API-KEY (a warrend token), or a sandbox's "
			"envdAccessToken in X-Access-Token");
}

static void judge_token(struct head_result *out, const char *value, size_t len, bool present)
{
	const char *why = NULL;
	if (!present)
		verdict(out, HEAD_UNAUTHORIZED, "this listener requires a token: send \"Authorization: Bearer TOKEN\"");
	else if (!auth_owner_of_header(value, len, &why))
		verdict(out, HEAD_UNAUTHORIZED, why);
	else
		verdict(out, HEAD_AUTHORIZED, NULL);
}

static void judge(struct head_result *out, const struct head_creds *c)
{
	if (c->kind == HEAD_CREDENTIALS_E2B)
		judge_e2b(out, c);
	else
		judge_token(out, c->authorization, c->authorization_len, c->authorization != NULL);
}

static void examine_http1(const uint8_t *buf, size_t len, enum head_credentials creds, struct head_result *out)
{
	const char *method, *path;
	size_t method_len, path_len, n = MAX_HEADERS;
	int minor;
	struct phr_header headers[MAX_HEADERS];
	int r = phr_parse_request((const char *)buf, len, &method, &method_len, &path, &path_len, &minor, headers, &n, 0);
	if (r == -2)
		return verdict(out, HEAD_INCOMPLETE, NULL);
	if (r < 0)
		return verdict(out, HEAD_MALFORMED, "malformed HTTP request");
	struct head_creds c = { .kind = creds };
	bool body = false;
	for (size_t i = 0; i < n; i++) {
		if (!headers[i].name)
			continue;
		note_header(&c, headers[i].name, headers[i].name_len, headers[i].value, headers[i].value_len);
		if ((headers[i].name_len == 17 && !strncasecmp(headers[i].name, "transfer-encoding", 17)) ||
		    (headers[i].name_len == 14 && !strncasecmp(headers[i].name, "content-length", 14) &&
		     !(headers[i].value_len == 1 && headers[i].value[0] == '0')))
			body = true;
	}
	judge(out, &c);
	/* a tokenless bodiless GET may be a signed artifact URL (warren's API only) */
	bool get = (method_len == 3 && !memcmp(method, "GET", 3)) || (method_len == 4 && !memcmp(method, "HEAD", 4));
	if (creds == HEAD_CREDENTIALS_BEARER && !c.authorization && get && !body) {
		out->target = path;
		out->target_len = path_len;
	}
}

static uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t get31(const uint8_t *p) { return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffff; }

/* One complete header block: is there a valid token in it? */
static void examine_header_block(const uint8_t *block, size_t len, enum head_credentials creds,
				 struct head_result *out)
{
	h2o_hpack_header_table_t table = { .hpack_capacity = HPACK_TABLE, .hpack_max_capacity = HPACK_TABLE };
	/* h2o_hpack_parse_headers fills only the pool, input and headers of a
	 * request: a zeroed one with a pool is enough. */
	h2o_req_t *req = calloc(1, sizeof(*req));
	if (!req)
		return verdict(out, HEAD_MALFORMED, "out of memory");
	h2o_mem_init_pool(&req->pool);
	int pseudo = 0;
	size_t content_length;
	const char *err = NULL;
	int r = h2o_hpack_parse_headers(req, &table, block, len, &pseudo, &content_length, NULL, &err);
	if (r != 0)
		verdict(out, HEAD_MALFORMED, "malformed HTTP/2 header block");
	else {
		struct head_creds c = { .kind = creds };
		for (size_t i = 0; i < req->headers.size; i++) {
			const h2o_header_t *h = &req->headers.entries[i];
			note_header(&c, h->name->base, h->name->len, h->value.base, h->value.len);
		}
		judge(out, &c);
	}
	h2o_mem_clear_pool(&req->pool);
	free(req);
	h2o_hpack_dispose_header_table(&table);
}

/* A HEADERS frame's header block fragment, without padding and priority. */
static bool headers_fragment(uint8_t flags, const uint8_t *p, size_t len, const uint8_t **frag, size_t *frag_len)
{
	size_t pad = 0;
	if (flags & FLAG_PADDED) {
		if (len < 1)
			return false;
		pad = p[0];
		p++, len--;
	}
	if (flags & FLAG_PRIORITY) {
		if (len < 5)
			return false;
		p += 5, len -= 5;
	}
	if (pad > len)
		return false;
	*frag = p;
	*frag_len = len - pad;
	return true;
}

/* The preface, then SETTINGS, WINDOW_UPDATE, PRIORITY, PING or extension
 * frames, then the first request: HEADERS and its CONTINUATIONs. */
static void examine_http2(const uint8_t *buf, size_t len, enum head_credentials creds, struct head_result *out)
{
	size_t at = PREFACE_LEN, block_len = 0;
	uint32_t stream = 0;
	uint8_t *block = NULL;
	out->http2 = true;
	verdict(out, HEAD_INCOMPLETE, NULL);
	while (len - at >= FRAME_HEADER) {
		const uint8_t *f = buf + at;
		uint32_t flen = get24(f), sid = get31(f + 5);
		uint8_t type = f[3], flags = f[4];
		if (flen > MAX_FRAME) {
			verdict(out, HEAD_MALFORMED, "HTTP/2 frame larger than SETTINGS_MAX_FRAME_SIZE");
			break;
		}
		if (len - at - FRAME_HEADER < flen)
			break; /* incomplete */
		const uint8_t *payload = f + FRAME_HEADER, *frag;
		size_t frag_len;
		at += FRAME_HEADER + flen;
		if (!stream && type == FRAME_HEADERS) {
			if (sid == 0 || sid % 2 == 0 || !headers_fragment(flags, payload, flen, &frag, &frag_len)) {
				verdict(out, HEAD_MALFORMED, "invalid HTTP/2 HEADERS frame");
				break;
			}
			stream = out->stream_id = sid;
		} else if (stream && type == FRAME_CONTINUATION && sid == stream) {
			frag = payload, frag_len = flen;
		} else if (stream) {
			verdict(out, HEAD_MALFORMED, "HTTP/2 header block interrupted");
			break;
		} else if (type == FRAME_SETTINGS || type == FRAME_WINDOW_UPDATE || type == FRAME_PRIORITY ||
			   type == FRAME_PING || type > FRAME_CONTINUATION) {
			continue; /* connection-level frames before the first request; unknown types are ignored (RFC 9113 5.5) */
		} else {
			verdict(out, HEAD_MALFORMED, "HTTP/2 frame before the first request's HEADERS");
			break;
		}
		/* The block is at most the bytes read so far. */
		if (!block && !(block = malloc(len))) {
			verdict(out, HEAD_MALFORMED, "out of memory");
			break;
		}
		memcpy(block + block_len, frag, frag_len);
		block_len += frag_len;
		if (flags & FLAG_END_HEADERS) {
			examine_header_block(block, block_len, creds, out);
			break;
		}
	}
	free(block);
}

void head_examine(const uint8_t *buf, size_t len, enum head_credentials creds, struct head_result *out)
{
	*out = (struct head_result){ .verdict = HEAD_INCOMPLETE };
	if (len == 0)
		return;
	if (memcmp(buf, preface, len < PREFACE_LEN ? len : PREFACE_LEN) == 0) {
		if (len >= PREFACE_LEN)
			examine_http2(buf, len, creds, out);
		else
			out->http2 = true;
		return;
	}
	examine_http1(buf, len, creds, out);
}
