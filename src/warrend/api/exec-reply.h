/* JSON replies that carry command output (exec, run, the compatibility
 * routes). Each output is a string member, or base64 with
 * "<key>_encoding": "base64" when output_needs_base64 says so (encode.h).
 * A large reply is never built whole: it is sent from a generator, one
 * piece encoded per h2o proceed, so it holds the event loop for well under
 * a millisecond at a time and a client that does not read costs the raw
 * output plus one piece. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <h2o.h>
#include <jansson.h>

#include "box.h"
#include "session.h"

#define EXEC_REPLY_OUTPUTS_MAX 4

struct reply_output {
	const char *key;   /* a static name: "stdout" */
	char *buf;         /* taken by the reply and freed (NULL: empty); the
			    * same buffer may be given under two keys */
	size_t len;
	bool judged;       /* base64 below is known (exec_result.out_base64); */
	bool base64;       /* otherwise output_needs_base64 decides */
};

/* Replies `status` with the members of `fields` (an object, stolen) and
 * the outputs (at most EXEC_REPLY_OUTPUTS_MAX), whose buffers it takes. */
int exec_reply_json(h2o_req_t *req, int status, json_t *fields, struct reply_output *outs, size_t n);

/* The exec result of the API (exec_result_json's fields, "stdout" and
 * "stderr"), taking r's output buffers. */
int exec_reply_result(h2o_req_t *req, struct exec_result *r);
/* The same held for later: the fields, and the outputs taken into outs. */
json_t *exec_result_take(struct exec_result *r, struct reply_output outs[2]);

/* Frees what exec_reply_json did not take (for a reply never sent). */
void reply_outputs_free(struct reply_output *outs, size_t n);

/* The result JSON of the API without stdout and stderr (the exit event of
 * a stream; replies with output add them through exec_reply_json). */
json_t *exec_result_json(const struct exec_result *r);

/* Runs er in s for a request that waits for the whole result: done(req,
 * result, data) while the client is there; a client that leaves ends the
 * command. Errors (409, 429 …) are replied here. */
typedef int (*exec_reply_fn)(h2o_req_t *req, struct exec_result *r, void *data);
int exec_buffered(h2o_req_t *req, struct session *s, struct exec_request *er, exec_reply_fn done, void *data);
