/* POST /v1/run: one request, one sandbox: lease it, write the request's
 * files, run the command, answer its result, destroy the sandbox. The
 * sandbox is a one-shot session of the core (counted as a run). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "exec-reply.h"
#include "session-collect.h"
#include "v1-parse.h"
#include "v1-routes.h"
#include "workspace.h"

struct run {
	struct http_pending *pending;     /* in the request's pool: only while !gone */
	struct session_wait *wait;        /* waiting for a cold sandbox */
	struct session *s;
	struct workspace_wait *ws;        /* writing one of the files */
	struct exec *x;
	struct exec_observer obs;
	json_t *body;
	json_t *files;                    /* {"path": "content"} written before the command */
	void *files_next;
	const char **collect;             /* paths collected after it (borrowed from body) */
	size_t n_collect;
	struct collect_wait *collecting;
	json_t *result;                   /* the command's, while its files are collected */
	struct reply_output outs[2];
	size_t n_outs;
	struct v1_hold hold;
	struct exec_request er;
	char request_id[REQUEST_ID_MAX + 1];
};

static void run_free(struct run *o)
{
	if (o->s)
		session_delete(o->s);
	v1_hold_free(&o->hold);
	json_decref(o->body);
	json_decref(o->result);
	reply_outputs_free(o->outs, o->n_outs);
	free(o->collect);
	free(o);
}

/* The request, and no more interest in its going. */
static h2o_req_t *run_take_req(struct run *o)
{
	h2o_req_t *req = o->pending->req;
	o->pending->on_gone = NULL;
	return req;
}

static void run_fail(struct run *o, const struct wd_error *err, const char *prefix)
{
	struct wd_error e = *err;
	if (prefix)
		wr_error_prefix(&e.cause, "%s", prefix);
	http_reply_wd_error(run_take_req(o), &e);
	run_free(o);
}

/* The result with what was collected (or why nothing could be). */
static void run_collected(void *data, json_t *report, const struct wd_error *err)
{
	struct run *o = data;
	o->collecting = NULL;
	h2o_req_t *req = run_take_req(o);
	if (err) {
		json_object_set_new(o->result, "collect_error", json_pack("{s:s, s:s}", "code", err->code ? err->code : "internal",
									  "message", err->cause.message));
	} else {
		http_render_collected(req, report);
		json_object_update(o->result, report);
	}
	size_t n = o->n_outs;
	o->n_outs = 0;
	exec_reply_json(req, 200, TAKE_PTR(o->result), o->outs, n);
	run_free(o);
}

static void run_done(struct exec_observer *obs, struct exec_result *r)
{
	struct run *o = LIST_ENTRY(struct run, obs, obs);
	o->x = NULL;
	if (!o->collect) {
		exec_reply_result(run_take_req(o), r);
		run_free(o);
		return;
	}
	/* after the command, before the sandbox goes */
	o->result = exec_result_take(r, o->outs);
	o->n_outs = 2;
	struct collect_options c = { .paths = o->collect, .n_paths = o->n_collect, .request_id = o->request_id,
				     .inline_max = daemon_state->cfg.artifact_inline_max };
	struct wd_error err = { 0 };
	if (session_collect(o->s, &c, run_collected, o, &o->collecting, &err) < 0)
		run_collected(o, NULL, &err);
}

static void run_command(struct run *o)
{
	struct wd_error err = { 0 };
	o->er.keep_output = true;
	o->er.request_id = o->request_id;
	o->obs.on_done = run_done;
	if (!(o->x = session_exec(o->s, &o->er, &o->obs, &err))) {
		err.status = err.status == 409 ? 503 : err.status;
		run_fail(o, &err, NULL);
	}
}

static void put_next(struct run *o);

static void file_written(void *data, struct workspace_result *res, const struct wd_error *err)
{
	struct run *o = data;
	o->ws = NULL;
	if (err) {
		run_fail(o, err, "files: ");
		return;
	}
	o->files_next = json_object_iter_next(o->files, o->files_next);
	put_next(o);
}

static void put_next(struct run *o)
{
	if (!o->files_next) {
		run_command(o);
		return;
	}
	const char *name = json_object_iter_key(o->files_next);
	json_t *content = json_object_iter_value(o->files_next);
	struct workspace_request r = {
		.op = WS_PUT, .path = name, .path_len = strlen(name), .data = json_string_value(content),
		.len = json_string_length(content), .max_size = daemon_state->cfg.max_file_size,
		.request_id = o->request_id,
	};
	struct wd_error err = { 0 };
	if (workspace_start(o->s, &r, file_written, o, &o->ws, &err) < 0)
		run_fail(o, &err, "files: ");
}

static void run_ready(void *data, struct session *s, const struct wd_error *err)
{
	struct run *o = data;
	o->wait = NULL;
	if (err) {
		run_fail(o, err, NULL);
		return;
	}
	o->s = s;
	o->files_next = o->files ? json_object_iter(o->files) : NULL;
	put_next(o);
}

static void run_gone(void *data)
{
	struct run *o = data;
	if (o->wait)
		session_create_cancel(o->wait);
	if (o->ws)
		workspace_cancel(o->ws);
	if (o->x)
		exec_unobserve(o->x, &o->obs); /* bound: the command is killed */
	if (o->collecting)
		session_collect_cancel(o->collecting);
	run_free(o);
}

/* "language" and "code" become a command in the language's interpreter. */
static int language_argv(json_t *body, struct v1_hold *hold, struct wd_error *err)
{
	json_t *lang = json_object_get(body, "language"), *code = json_object_get(body, "code");
	if (!lang && !code)
		return 0;
	if (!lang || !code || !json_is_string(lang) || !json_is_string(code) || json_object_get(body, "cmd") ||
	    json_object_get(body, "shell"))
		return wd_fail(err, 400, "give \"language\" and \"code\" together (strings), without cmd or shell");
	const char *l = json_string_value(lang), *flag;
	if (!strcmp(l, "python"))
		l = "python3", flag = "-c";
	else if (!strcmp(l, "bash"))
		flag = "-c";
	else if (!strcmp(l, "node"))
		flag = "-e";
	else
		return wd_fail(err, 400, "language: \"%s\" is not one of python, bash, node", l);
	if (strlen(json_string_value(code)) != json_string_length(code))
		return wd_fail(err, 400, "code: expected a string without NUL bytes");
	char **argv = calloc(4, sizeof *argv);
	if (!argv || !(argv[0] = strdup(l)) || !(argv[1] = strdup(flag)) || !(argv[2] = strdup(json_string_value(code)))) {
		strv_freep(&argv);
		return wd_fail(err, 503, "out of memory");
	}
	hold->argv = argv;
	return 0;
}

static int check_files(json_t *files, struct wd_error *err)
{
	const char *name;
	json_t *content;
	if (!files)
		return 0;
	if (!json_is_object(files))
		return wd_fail(err, 400, "files: expected an object of \"path\": \"content\"");
	json_object_foreach(files, name, content)
		if (!json_is_string(content))
			return wd_fail(err, 400, "files.%s: expected a string", name);
	return 0;
}

static int post_run(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "cmd", "shell", "language", "code", "image", "policy", "backend",
					      "limits", "env", "stdin", "stdin_base64", "timeout", "output", "files",
					      "network", "collect", NULL };
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	struct run *o = calloc(1, sizeof *o);
	if (!o) {
		json_decref(body);
		return http_reply_error(req, 503, "unavailable", "out of memory");
	}
	o->body = body;
	o->files = json_object_get(body, "files");
	snprintf(o->request_id, sizeof o->request_id, "%s", m->request_id);
	struct session_request r = { .kind = SESSION_ONESHOT, .owner = m->owner, .request_id = m->request_id };
	struct wd_error err = { 0 };
	bool stream;
	json_t *network = json_object_get(body, "network");
	if (network && v1_network(network, &o->hold, &err) == 0)
		r.network = &o->hold.net;
	if ((network && !r.network) || v1_check_fields(body, NULL, fields, &err) < 0 ||
	    v1_session_target(body, &r, &err) < 0 ||
	    language_argv(body, &o->hold, &err) < 0 || check_files(o->files, &err) < 0 ||
	    (json_object_get(body, "collect") &&
	     v1_collect_paths(json_object_get(body, "collect"), "collect", &o->collect, &o->n_collect, &err) < 0) ||
	    v1_exec_request(body, fields, &o->er, &o->hold, &stream, &err) < 0) {
		run_free(o);
		return http_reply_wd_error(req, &err);
	}
	o->pending = http_pending_new(req, run_gone, o);
	if (session_create(&r, run_ready, o, &o->wait, &err) < 0) {
		o->pending->on_gone = NULL;
		run_free(o);
		return http_reply_wd_error(req, &err);
	}
	return 0;
}

const struct http_route v1_run_routes[] = {
	{ "POST", "/v1/run", post_run, 0 },
	{ NULL, NULL, NULL, 0 },
};
