/* MCP sessions: what initialize starts and DELETE /mcp ends. Each has an
 * owner (the token), the protocol revision it negotiated, the calls in
 * flight and its own sandbox: a core session made on the first call that
 * names none, found again by its id on every call (the core may have
 * ended it meanwhile: expiry, sandbox_kill), and deleted with the MCP
 * session. An MCP session unused for mcp_session_timeout ends as if
 * deleted. At most max_mcp_sessions_per_token per token. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "loop.h"
#include "mcp.h"

#define EXPIRY_CHECK_MS 1000

struct mcp_session {
	char id[33];
	char owner[65];
	const char *protocol;        /* static: one of mcp.c's */
	char sandbox[65];            /* its own sandbox's session id; "" before the first use */
	uint64_t last_used_ms;
	bool creating;               /* its own sandbox is being created */
	struct session_wait *wait;   /* … from a cold start */
	struct list calls;           /* in flight */
	struct list link;            /* in `all` */
};

static struct list all = LIST_INIT(all);
static struct loop_timer *expiry;

const char *mcp_session_id(const struct mcp_session *ms) { return ms->id; }
const char *mcp_session_protocol(const struct mcp_session *ms) { return ms->protocol; }
const char *mcp_session_sandbox(const struct mcp_session *ms) { return ms->sandbox; }
void mcp_session_touch(struct mcp_session *ms) { ms->last_used_ms = daemon_now_ms(); }

static void expire(void *data)
{
	uint64_t now = daemon_now_ms(), timeout = daemon_state->cfg.mcp_session_timeout_ms;
	for (struct list *n = all.next; n != &all;) {
		struct mcp_session *ms = LIST_ENTRY(struct mcp_session, link, n);
		n = n->next;
		if (!list_empty(&ms->calls) || now < ms->last_used_ms || now - ms->last_used_ms < timeout)
			continue;
		if (daemon_state->cfg.verbose)
			daemon_log("MCP session %s was unused too long (mcp_session_timeout): ended", ms->id);
		mcp_session_end(ms);
		n = all.next; /* ending it may have ended calls, never sessions: restart anyway */
	}
}

/* A new MCP session in the list, its expiry running; NULL on no memory. */
static struct mcp_session *session_add(const char *id, const char *owner, const char *protocol)
{
	if (!expiry && !(expiry = loop_every(EXPIRY_CHECK_MS, expire, NULL)))
		return NULL;
	struct mcp_session *ms = calloc(1, sizeof *ms);
	if (!ms)
		return NULL;
	snprintf(ms->id, sizeof ms->id, "%s", id);
	snprintf(ms->owner, sizeof ms->owner, "%s", owner);
	ms->protocol = protocol;
	ms->last_used_ms = daemon_now_ms();
	list_init(&ms->calls);
	list_insert(&all, &ms->link);
	return ms;
}

struct mcp_session *mcp_session_new(const char *owner, const char *protocol, struct wd_error *err)
{
	unsigned held = 0, cap = daemon_state->cfg.max_mcp_sessions_per_token;
	for (struct list *n = all.next; n != &all; n = n->next)
		held += !strcmp(LIST_ENTRY(struct mcp_session, link, n)->owner, owner);
	if (held >= cap)
		return wd_fail(err, 429, "this token holds its maximum of %u MCP sessions (max_mcp_sessions_per_token): "
			       "end one (DELETE /mcp) or wait for one to expire", cap), NULL;
	char id[33];
	unsigned char raw[16];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		abort(); /* no entropy: nothing safe to hand out */
	for (int i = 0; i < 16; i++)
		sprintf(id + 2 * i, "%02x", raw[i]);
	struct mcp_session *ms = session_add(id, owner, protocol);
	return ms ? ms : (wd_fail(err, 503, "out of memory"), NULL);
}

static void restore_one(struct session *s, void *unused)
{
	const json_t *note = session_note(s, MCP_NOTE);
	const char *id, *protocol;
	if (!note)
		return;
	struct session_info i;
	session_info(s, &i);
	if (json_unpack((json_t *)note, "{s:s, s:s}", "session", &id, "protocol", &protocol) < 0 ||
	    strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32 || !mcp_protocol_supported(protocol)) {
		daemon_log("MCP: session %s: its MCP note is malformed; it stays a warren session only", i.id);
		return;
	}
	struct mcp_session *ms = session_add(id, i.owner, mcp_protocol_supported(protocol));
	if (!ms) {
		daemon_log("MCP: session %s: out of memory for its MCP session; it stays a warren session only", i.id);
		return;
	}
	snprintf(ms->sandbox, sizeof ms->sandbox, "%s", i.id);
}

void mcp_sessions_restore(void)
{
	sessions_foreach(restore_one, NULL);
}

struct mcp_session *mcp_session_find(const char *id, const char *owner)
{
	for (struct list *n = all.next; n != &all; n = n->next) {
		struct mcp_session *ms = LIST_ENTRY(struct mcp_session, link, n);
		if (!strcmp(ms->id, id))
			return strcmp(ms->owner, owner) ? NULL : ms;
	}
	return NULL;
}

void mcp_session_add_call(struct mcp_session *ms, struct mcp_call *c)
{
	c->ms = ms;
	list_insert(&ms->calls, &c->link);
}

void mcp_session_remove_call(struct mcp_call *c)
{
	if (!c->ms)
		return;
	list_unlink(&c->link);
	mcp_session_touch(c->ms);
	c->ms = NULL;
	c->awaits_sandbox = false;
}

struct mcp_call *mcp_session_find_call(struct mcp_session *ms, const json_t *id)
{
	for (struct list *n = ms->calls.next; id && n != &ms->calls; n = n->next) {
		struct mcp_call *c = LIST_ENTRY(struct mcp_call, link, n);
		if (json_equal(c->id, id))
			return c;
	}
	return NULL;
}

/* The first call waiting for the session's own sandbox, NULL when none. */
static struct mcp_call *next_waiter(struct mcp_session *ms)
{
	for (struct list *n = ms->calls.next; n != &ms->calls; n = n->next) {
		struct mcp_call *c = LIST_ENTRY(struct mcp_call, link, n);
		if (c->awaits_sandbox)
			return c;
	}
	return NULL;
}

static void own_sandbox_ready(void *data, struct session *s, const struct wd_error *err)
{
	struct mcp_session *ms = data;
	ms->creating = false;
	ms->wait = NULL;
	if (s) {
		snprintf(ms->sandbox, sizeof ms->sandbox, "%s", session_id(s));
		/* in the sandbox's record: after a restart of warrend this MCP
		 * session goes on with it (without memory for it, it would not) */
		json_t *note = json_pack("{s:s, s:s}", "session", ms->id, "protocol", ms->protocol);
		if (!note || session_set_note(s, MCP_NOTE, note) < 0)
			daemon_log("MCP session %s: out of memory for its note: it would not outlive a restart", ms->id);
	}
	/* each waiter looks it up again: the one before may have ended it */
	for (struct mcp_call *c; (c = next_waiter(ms));) {
		c->awaits_sandbox = false;
		struct session *own = s ? session_find(ms->sandbox, ms->owner) : NULL;
		if (own)
			mcp_call_in_sandbox(c, own);
		else if (err)
			mcp_call_fail_wd(c, "creating this session's sandbox: ", err);
		else
			mcp_call_fail(c, "this session's sandbox ended as it was created: call again for a new one");
	}
}

void mcp_session_with_sandbox(struct mcp_session *ms, struct mcp_call *c)
{
	struct session *s = ms->sandbox[0] ? session_find(ms->sandbox, ms->owner) : NULL;
	if (s) {
		mcp_call_in_sandbox(c, s);
		return;
	}
	c->awaits_sandbox = true;
	if (ms->creating)
		return;
	ms->creating = true;
	if (ms->sandbox[0] && daemon_state->cfg.verbose)
		daemon_log("MCP session %s: its sandbox %s ended; creating a new one", ms->id, ms->sandbox);
	ms->sandbox[0] = '\0';
	struct session_request r = { .kind = SESSION_KEPT, .owner = ms->owner, .request_id = c->request_id };
	struct wd_error err = { 0 };
	/* own_sandbox_ready may run (and answer c) before this returns */
	if (session_create(&r, own_sandbox_ready, ms, &ms->wait, &err) < 0) {
		ms->creating = false;
		for (struct mcp_call *w; (w = next_waiter(ms));) {
			w->awaits_sandbox = false;
			mcp_call_fail_wd(w, "creating this session's sandbox: ", &err);
		}
	}
}

void mcp_session_end(struct mcp_session *ms)
{
	if (ms->wait)
		session_create_cancel(ms->wait);
	ms->wait = NULL;
	ms->creating = false;
	for (struct mcp_call *c; (c = next_waiter(ms));)
		mcp_call_fail(c, "the MCP session ended");
	/* the others go on without it */
	while (!list_empty(&ms->calls))
		mcp_session_remove_call(LIST_ENTRY(struct mcp_call, link, ms->calls.next));
	struct session *own = ms->sandbox[0] ? session_find(ms->sandbox, ms->owner) : NULL;
	if (own)
		session_delete(own);
	list_unlink(&ms->link);
	free(ms);
}
