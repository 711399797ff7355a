/* JSON replies with command output: built at once when small, otherwise
 * sent from a generator that encodes one piece of output per proceed.
 * The pieces are jansson's own encoding of a string (or base64), spliced
 * between the quotes of members whose names jansson wrote too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "encode.h"
#include "exec-reply.h"
#include "http.h"

/* Raw output up to which a reply is built whole (one write, with a
 * Content-Length); above it, it streams. */
#define INLINE_MAX (64 * 1024)
/* Raw bytes encoded per proceed (~0.1 ms of work): a multiple of 3, so
 * only the last base64 piece of an output is padded. */
#define PIECE_RAW (48 * 1024)

void reply_outputs_free(struct reply_output *outs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *buf = outs[i].buf;
		for (size_t k = i; buf && k < n; k++)
			if (outs[k].buf == buf)
				outs[k].buf = NULL;
		free(buf);
	}
}

static bool wants_base64(const struct reply_output *o)
{
	if (o->judged)
		return o->base64;
	return o->buf && output_needs_base64(o->buf, o->len);
}

/* ---- small: one JSON document ---------------------------------------------- */

static int reply_inline(h2o_req_t *req, int status, json_t *fields, struct reply_output *outs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *buf = outs[i].buf ? outs[i].buf : "";
		if (!wants_base64(&outs[i])) {
			json_object_set_new(fields, outs[i].key, json_stringn(buf, outs[i].len));
			continue;
		}
		_cleanup_free_ char *b64 = base64_encode(buf, outs[i].len);
		char enc_key[64];
		snprintf(enc_key, sizeof enc_key, "%s_encoding", outs[i].key);
		json_object_set_new(fields, outs[i].key, json_string(b64 ? b64 : ""));
		json_object_set_new(fields, enc_key, json_string("base64"));
	}
	reply_outputs_free(outs, n);
	return http_reply_json(req, status, fields);
}

/* ---- large: a generator ------------------------------------------------------ */

struct streamed_output {
	struct reply_output out;
	bool base64;
	bool opened;
	size_t sent;            /* raw bytes encoded so far */
	h2o_iovec_t open;       /* {"stdout":"   or   ,"stderr":" */
	h2o_iovec_t close;      /* "   or   ","stdout_encoding":"base64" */
};

struct output_sender {
	h2o_generator_t gen;    /* first: h2o hands it back to us */
	struct streamed_output outs[EXEC_REPLY_OUTPUTS_MAX];
	size_t n, cur;
	h2o_iovec_t tail;       /* the other members and "}\n" */
	char *piece;            /* the allocation behind what h2o is sending */
};

static void sender_free_outputs(struct output_sender *s)
{
	struct reply_output outs[EXEC_REPLY_OUTPUTS_MAX];
	for (size_t i = 0; i < s->n; i++) {
		outs[i] = s->outs[i].out;
		s->outs[i].out.buf = NULL;
	}
	reply_outputs_free(outs, s->n);
}

static void sender_dispose(void *p)
{
	struct output_sender *s = p;
	sender_free_outputs(s);
	free(s->piece);
	s->piece = NULL;
}

/* Frees output i's buffer once sent, unless a later member sends it too. */
static void release_sent(struct output_sender *s, size_t i)
{
	char *buf = s->outs[i].out.buf;
	for (size_t k = i + 1; k < s->n; k++)
		if (s->outs[k].out.buf == buf)
			return;
	for (size_t k = 0; k <= i; k++)
		if (s->outs[k].out.buf == buf)
			s->outs[k].out.buf = NULL;
	free(buf);
}

/* The next piece of o, encoded, into s->piece; {NULL, 0} when out of memory. */
static h2o_iovec_t encode_piece(struct output_sender *s, struct streamed_output *o)
{
	const char *start = o->out.buf + o->sent;
	size_t n = o->out.len - o->sent;
	if (n > PIECE_RAW)
		n = PIECE_RAW;
	if (o->base64) {
		s->piece = base64_encode(start, n);
		if (!s->piece)
			return h2o_iovec_init(NULL, 0);
		o->sent += n;
		return h2o_iovec_init(s->piece, strlen(s->piece));
	}
	/* whole characters only: jansson encodes (and checks) characters */
	if (o->sent + n < o->out.len)
		while (n > 1 && ((unsigned char)start[n] & 0xc0) == 0x80)
			n--;
	json_t *str = json_stringn_nocheck(start, n);
	s->piece = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
	json_decref(str);
	if (!s->piece)
		return h2o_iovec_init(NULL, 0);
	o->sent += n;
	return h2o_iovec_init(s->piece + 1, strlen(s->piece) - 2); /* inside its quotes */
}

static void sender_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct output_sender *s = (struct output_sender *)gen;
	free(s->piece);
	s->piece = NULL;
	h2o_iovec_t vec[2 * EXEC_REPLY_OUTPUTS_MAX + 2];
	size_t nvec = 0;
	while (s->cur < s->n) {
		struct streamed_output *o = &s->outs[s->cur];
		if (!o->opened) {
			vec[nvec++] = o->open;
			o->opened = true;
		}
		if (o->sent < o->out.len) {
			h2o_iovec_t piece = encode_piece(s, o);
			if (!piece.base) {
				h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
				return;
			}
			vec[nvec++] = piece;
			h2o_send(req, vec, nvec, H2O_SEND_STATE_IN_PROGRESS);
			return;
		}
		vec[nvec++] = o->close;
		release_sent(s, s->cur);
		s->cur++;
	}
	vec[nvec++] = s->tail;
	h2o_send(req, vec, nvec, H2O_SEND_STATE_FINAL);
}

static void sender_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	(void)gen;
	(void)req; /* the pool's dispose frees everything */
}

/* jansson's text of a member name, in the request's pool. */
static char *member_name(h2o_req_t *req, const char *key, const char *suffix)
{
	char name[64];
	snprintf(name, sizeof name, "%s%s", key, suffix);
	json_t *str = json_string(name);
	_cleanup_free_ char *text = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
	json_decref(str);
	return text ? h2o_strdup(&req->pool, text, SIZE_MAX).base : NULL;
}

static h2o_iovec_t pool_printf(h2o_req_t *req, const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + strlen(c);
	char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
	snprintf(buf, len + 1, "%s%s%s", a, b, c);
	return h2o_iovec_init(buf, len);
}

static int reply_streamed(h2o_req_t *req, int status, json_t *fields, struct reply_output *outs, size_t n)
{
	_cleanup_free_ char *rest = json_dumps(fields, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(fields);
	if (!rest) {
		reply_outputs_free(outs, n);
		return http_reply_error(req, 500, "internal", "out of memory");
	}
	struct output_sender *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, sender_dispose);
	memset(s, 0, sizeof *s);
	s->gen.proceed = sender_proceed;
	s->gen.stop = sender_stop;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		s->outs[i].out = outs[i];
		s->outs[i].base64 = wants_base64(&outs[i]);
		outs[i].buf = NULL; /* the sender's now: its dispose frees them */
	}
	for (size_t i = 0; i < n; i++) {
		struct streamed_output *o = &s->outs[i];
		const char *name = member_name(req, o->out.key, ""), *enc = member_name(req, o->out.key, "_encoding");
		if (!name || !enc)
			return http_reply_error(req, 500, "internal", "out of memory");
		o->open = pool_printf(req, i ? "," : "{", name, ":\"");
		o->close = o->base64 ? pool_printf(req, "\",", enc, ":\"base64\"") : pool_printf(req, "\"", "", "");
	}
	/* rest is "{...}": its members follow ours ("{}": none) */
	s->tail = strcmp(rest, "{}") ? pool_printf(req, ",", rest + 1, "\n") : pool_printf(req, "}\n", "", "");
	http_start_status(req, status, "application/json");
	h2o_start_response(req, &s->gen);
	sender_proceed(&s->gen, req);
	return 0;
}

int exec_reply_json(h2o_req_t *req, int status, json_t *fields, struct reply_output *outs, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += outs[i].len;
	if (n > EXEC_REPLY_OUTPUTS_MAX || !fields) {
		reply_outputs_free(outs, n);
		json_decref(fields);
		return http_reply_error(req, 500, "internal", "a reply with more outputs than it can carry");
	}
	if (total <= INLINE_MAX)
		return reply_inline(req, status, fields, outs, n);
	return reply_streamed(req, status, fields, outs, n);
}

json_t *exec_result_take(struct exec_result *r, struct reply_output outs[2])
{
	outs[0] = (struct reply_output){ "stdout", r->out[0], r->out_len[0], true, r->out_base64[0] };
	outs[1] = (struct reply_output){ "stderr", r->out[1], r->out_len[1], true, r->out_base64[1] };
	r->out[0] = r->out[1] = NULL;
	if (r->failed_to_start) {
		/* the command never ran: stderr says why */
		free(outs[1].buf);
		int len = asprintf(&outs[1].buf, "warren: %s\n", r->exec_error);
		outs[1].len = len < 0 ? 0 : (size_t)len;
		if (len < 0)
			outs[1].buf = NULL;
		outs[1].judged = false;
	}
	return exec_result_json(r);
}

int exec_reply_result(h2o_req_t *req, struct exec_result *r)
{
	struct reply_output outs[2];
	json_t *fields = exec_result_take(r, outs);
	return exec_reply_json(req, 200, fields, outs, 2);
}

json_t *exec_result_json(const struct exec_result *r)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "exit_code", r->exited ? json_integer(r->exit_code) : json_null());
	json_object_set_new(o, "signal", !r->exited && r->signal ? json_integer(r->signal) : json_null());
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)r->duration_ms));
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "oom_killed", json_boolean(r->oom_killed));
	json_object_set_new(o, "truncated", json_boolean(r->truncated));
	if (r->exec_error[0] && !r->failed_to_start)
		json_object_set_new(o, "error", json_string(r->exec_error));
	return o;
}

/* ---- a request waiting for a whole result ------------------------------------ */

struct buffered_exec {
	struct exec_observer obs;
	struct http_pending *pending;
	struct exec *x;
	exec_reply_fn done;
	void *done_data;
};

static void buffered_done(struct exec_observer *o, struct exec_result *r)
{
	struct buffered_exec *b = (struct buffered_exec *)o;
	h2o_req_t *req = b->pending ? b->pending->req : NULL;
	if (b->pending)
		b->pending->on_gone = NULL;
	if (req)
		b->done(req, r, b->done_data);
	free(b);
}

static void buffered_gone(void *data)
{
	struct buffered_exec *b = data;
	exec_unobserve(b->x, &b->obs); /* bound: the command is killed */
	free(b);
}

int exec_buffered(h2o_req_t *req, struct session *s, struct exec_request *er, exec_reply_fn done, void *data)
{
	struct buffered_exec *b = calloc(1, sizeof *b);
	if (!b)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	b->obs.on_done = buffered_done;
	b->done = done;
	b->done_data = data;
	struct wd_error err = { 0 };
	er->keep_output = true;
	er->request_id = http_ctx(req)->request_id;
	if (!(b->x = session_exec(s, er, &b->obs, &err))) {
		free(b);
		return http_reply_wd_error(req, &err);
	}
	b->pending = http_pending_new(req, buffered_gone, b);
	return 0;
}
