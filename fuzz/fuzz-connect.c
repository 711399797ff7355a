/* The Connect envelope reader and proto3's JSON readers (connect.h): what
 * E2B's clients send to the envd routes (a streamed call's envelope, then
 * its JSON message's fields). Properties: no crash on any bytes; an
 * envelope read never claims more than the buffer, and its header written
 * back is the bytes read; base64 bytes that decode encode back to the
 * same bytes (one spelling per byte string, either alphabet, padding
 * optional); an integer read from a string reads back from its decimal
 * text as the same number; every refusal carries a message. */
#include "fuzz.h"

#include <errno.h>
#include <inttypes.h>

#include <jansson.h>

#include "connect.h"

static void read_fields(const json_t *msg)
{
	static const char *const names[] = { "ZERO", "ONE", NULL, "THREE" };
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)msg, key, v) {
		char err[160] = "";
		int64_t n;
		uint32_t u;
		bool b;
		const char *s;
		size_t len;
		uint8_t *bytes;
		int32_t e;
		json_t *f;
		int r = pj_field(msg, key, "snake_case_alias", &f, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		err[0] = 0;
		r = pj_int64(v, key, &n, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		if (r == 0 && json_is_string(v)) {
			/* its decimal text reads back as the same number */
			char back[24];
			int64_t again;
			snprintf(back, sizeof back, "%" PRId64, n);
			json_t *t = json_string(back);
			FUZZ_ASSERT(t && pj_int64(t, key, &again, err, sizeof err) == 0 && again == n);
			json_decref(t);
		}
		err[0] = 0;
		r = pj_uint32(v, key, &u, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		err[0] = 0;
		r = pj_bool(v, key, &b, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		err[0] = 0;
		r = pj_string(v, key, &s, &len, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		err[0] = 0;
		r = pj_enum(v, key, names, 4, &e, err, sizeof err);
		FUZZ_ASSERT(r == 0 || (r == -EINVAL && err[0]));
		err[0] = 0;
		r = pj_bytes(v, key, &bytes, &len, err, sizeof err);
		FUZZ_ASSERT(r == 0 || r == -ENOMEM || (r == -EINVAL && err[0] && !bytes));
		if (r == 0 && bytes) {
			/* encode back (standard alphabet, padded) and read that again */
			json_t *o = json_object();
			FUZZ_ASSERT(o && pj_put_bytes(o, "b", bytes, len) == 0);
			uint8_t *again;
			size_t len2;
			FUZZ_ASSERT(pj_bytes(json_object_get(o, "b"), "b", &again, &len2, err, sizeof err) == 0);
			FUZZ_ASSERT(len2 == len && (!len || !memcmp(again, bytes, len)));
			free(again);
			json_decref(o);
		}
		free(bytes);
		if (json_is_object(v))
			read_fields(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0;
	while (at < size) {
		struct connect_envelope env;
		ssize_t n = connect_envelope_read(data + at, size - at, 1 << 16, &env);
		FUZZ_ASSERT(n == 0 || n == -EMSGSIZE || n == -EPROTO || (n >= CONNECT_ENVELOPE_HEADER && (size_t)n <= size - at));
		if (n <= 0)
			break;
		uint8_t h[CONNECT_ENVELOPE_HEADER];
		connect_envelope_header(env.flags, (uint32_t)env.len, h);
		FUZZ_ASSERT(!memcmp(h, data + at, sizeof h) && env.data == data + at + CONNECT_ENVELOPE_HEADER);
		json_t *msg = json_loadb((const char *)env.data, env.len, JSON_DECODE_ANY, NULL);
		if (json_is_object(msg))
			read_fields(msg);
		json_decref(msg);
		at += (size_t)n;
	}
	return 0;
}
