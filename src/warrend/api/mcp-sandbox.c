/* The sandbox tools: sandbox_create, sandbox_list, sandbox_kill and
 * sandbox_set_timeout, over the core's sessions. A sandbox is a session
 * of the core (SESSION_KEPT), so /v1/sessions and `warren ls` show the
 * same ones, and the same caps count them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "mcp.h"

/* ---- sandbox_create ------------------------------------------------------- */

static void created(void *data, struct session *s, const struct wd_error *err)
{
	struct mcp_call *c = data;
	c->create = NULL;
	if (err) {
		mcp_call_fail_wd(c, "sandbox_create: ", err);
		return;
	}
	struct session_info i;
	char expires[32], text[512];
	session_info(s, &i);
	mcp_iso_time(i.expires, expires, sizeof expires);
	int n = snprintf(text, sizeof text, "Created sandbox %s (image %s, policy %s). It expires at %s unless used "
			 "or extended with sandbox_set_timeout.", i.id, i.image, i.policy, expires);
	mcp_call_result(c, json_pack("{s:s, s:s, s:s, s:s}", "sandbox_id", i.id, "image", i.image, "policy", i.policy,
				     "expires_at", expires), text, (size_t)n);
}

void mcp_tool_sandbox_create(struct mcp_call *c, struct session *unused)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	json_t *timeout = json_object_get(c->args, "timeout_s");
	uint64_t timeout_s = timeout ? (uint64_t)json_integer_value(timeout) : 0;
	if (timeout_s > cfg->max_lifetime_ms / 1000) {
		mcp_call_fail(c, "sandbox_create: timeout_s: at most %llu (the server's max_lifetime)",
			      (unsigned long long)(cfg->max_lifetime_ms / 1000));
		return;
	}
	_cleanup_strv_ char **env = NULL;
	if (!mcp_arg_env(c, "env", &env)) {
		mcp_call_fail(c, "sandbox_create: out of memory");
		return;
	}
	struct session_request r = {
		.kind = SESSION_KEPT, .owner = c->owner, .image = mcp_arg_string(c, "image"),
		.policy = mcp_arg_string(c, "policy"), .env = env, .max_lifetime_ms = timeout_s * 1000,
		.request_id = c->request_id,
	};
	struct wd_error err = { 0 };
	/* created() may run (and end c) before this returns */
	if (session_create(&r, created, c, &c->create, &err) < 0)
		mcp_call_fail_wd(c, "sandbox_create: ", &err);
}

/* ---- sandbox_list ------------------------------------------------------------ */

struct listing {
	json_t *list;
	const char *own;
	char *text;
	size_t len;
	FILE *out;
};

static void add_sandbox(const struct session *s, void *data)
{
	struct listing *l = data;
	struct session_info i;
	char created[32], expires[32];
	session_info(s, &i);
	mcp_iso_time(i.created, created, sizeof created);
	mcp_iso_time(i.expires, expires, sizeof expires);
	bool own = !strcmp(i.id, l->own);
	json_array_append_new(l->list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "sandbox_id", i.id, "image",
						 i.image, "policy", i.policy, "state", i.dead ? "dead" : "ready",
						 "created_at", created, "expires_at", expires, "own", own));
	fprintf(l->out, "%s  image %s, policy %s, %s, expires %s%s\n", i.id, i.image, i.policy,
		i.dead ? "dead" : "ready", expires, own ? "  (this session's own)" : "");
}

void mcp_tool_sandbox_list(struct mcp_call *c, struct session *unused)
{
	struct listing l = { .list = json_array(), .own = c->ms ? mcp_session_sandbox(c->ms) : "" };
	l.out = open_memstream(&l.text, &l.len);
	if (!l.list || !l.out) {
		if (l.out)
			fclose(l.out);
		free(l.text);
		json_decref(l.list);
		mcp_call_fail(c, "sandbox_list: out of memory");
		return;
	}
	sessions_foreach_of(c->owner, add_sandbox, &l);
	if (json_array_size(l.list) == 0)
		fputs("No sandboxes.\n", l.out);
	fclose(l.out);
	mcp_call_result(c, json_pack("{s:o}", "sandboxes", l.list), l.text, l.len);
	free(l.text);
}

/* ---- sandbox_kill, sandbox_set_timeout ---------------------------------------- */

/* The sandbox named by the sandbox_id argument; NULL after failing c. */
static struct session *named_sandbox(struct mcp_call *c)
{
	const char *id = mcp_arg_string(c, "sandbox_id");
	struct session *s = session_find(id, c->owner);
	if (!s)
		mcp_call_fail(c, "no sandbox \"%s\" (sandbox_list names yours)", id);
	return s;
}

void mcp_tool_sandbox_kill(struct mcp_call *c, struct session *unused)
{
	struct session *s = named_sandbox(c);
	if (!s)
		return;
	char id[65], text[128];
	snprintf(id, sizeof id, "%s", session_id(s));
	session_delete(s);
	int n = snprintf(text, sizeof text, "Killed sandbox %s.", id);
	mcp_call_result(c, json_pack("{s:s, s:b}", "sandbox_id", id, "killed", 1), text, (size_t)n);
}

void mcp_tool_sandbox_set_timeout(struct mcp_call *c, struct session *unused)
{
	struct session *s = named_sandbox(c);
	if (!s)
		return;
	struct wd_error err = { 0 };
	uint64_t timeout_s = (uint64_t)json_integer_value(json_object_get(c->args, "timeout_s"));
	if (timeout_s > UINT64_MAX / 1000 || session_set_timeout(s, timeout_s * 1000, &err) < 0) {
		mcp_call_fail(c, "sandbox_set_timeout: %s", err.status ? err.cause.message : "timeout_s: too large");
		return;
	}
	struct session_info i;
	char expires[32], text[160];
	session_info(s, &i);
	mcp_iso_time(i.expires, expires, sizeof expires);
	int n = snprintf(text, sizeof text, "Sandbox %s now expires at %s.", i.id, expires);
	mcp_call_result(c, json_pack("{s:s, s:s}", "sandbox_id", i.id, "expires_at", expires), text, (size_t)n);
}
