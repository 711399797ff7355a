/* The session core: every way of getting a sandbox (v1 sessions, one-shot
 * runs, the compatibility routes, and the front ends to come) goes
 * through session_create; every command through session_exec; every
 * file through workspace.h. Admission (the caps, each token's
 * restrictions, draining), expiry, drain and the state records live here,
 * once. No HTTP in here: front ends parse requests into these structs and
 * render what comes back; errors come as struct wd_error. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "box.h"
#include "policy.h"
#include "wd-error.h"

struct session;
struct session_wait;

enum session_kind {
	SESSION_KEPT,      /* in the table until deleted or expired */
	SESSION_ONESHOT,   /* one request's (a run): never listed, counted as a run, ended by its holder */
};

/* Limits a request asks for; 0 leaves the policy's. */
struct limits_request {
	uint64_t memory, pids, timeout_ms, output;
	uint32_t cpu_millis;
};

/* The network a request asks for (warren-policy(5) "network"): a mode
 * no higher than the policy's, and for egress an allowlist within the
 * policy's. */
struct network_request {
	bool has_mode;                /* false: the policy's mode (egress when an allowlist is given) */
	enum net_mode mode;           /* NET_NONE or NET_EGRESS; NET_HOST is refused */
	bool has_allow;               /* false: the policy's list */
	char *const *allow;           /* allowlist entries ("pypi.org", "198.51.100.0/24:443") */
	size_t n_allow;
};

struct session_request {
	enum session_kind kind;
	const char *owner;            /* the token's name */
	const char *image, *policy;   /* NULL: the daemon's defaults */
	const char *backend;          /* NULL: the default backend */
	struct limits_request limits; /* tightened within the policy's */
	char *const *env;             /* "KEY=VALUE" over the policy's; NULL: none */
	uint64_t idle_timeout_ms, max_lifetime_ms; /* 0: the daemon's */
	const struct network_request *network;    /* NULL: the policy's */
	const char *request_id;       /* the request that created it, for the log */
};

/* The session is ready (s) or could not be created (err). Never called
 * for a cancelled creation. */
typedef void (*session_ready_fn)(void *data, struct session *s, const struct wd_error *err);

/* Admits and creates a session. Refused at once: -errno with err set, and
 * done is never called. Otherwise 0: done has been called already (a
 * sandbox from the pool, *wait = NULL) or will be (a cold sandbox: *wait
 * cancels it). */
int session_create(const struct session_request *r, session_ready_fn done, void *data, struct session_wait **wait,
		   struct wd_error *err);
/* The caller is gone: done is not called, the sandbox goes. */
void session_create_cancel(struct session_wait *w);
/* Ends a session (any kind): its sandbox is destroyed in the background. */
void session_delete(struct session *s);

/* A live session of `owner` (SESSION_KEPT); NULL when unknown, ended or
 * another owner's (callers answer 404 in every case). */
struct session *session_find(const char *id, const char *owner);
/* 404 "no session" into err when NULL. */
struct session *session_find_or_fail(const char *id, const char *owner, struct wd_error *err);
void sessions_foreach_of(const char *owner, void (*fn)(const struct session *s, void *data), void *data);
/* Every live kept session, of every owner (fn may end it). */
void sessions_foreach(void (*fn)(struct session *s, void *data), void *data);
/* A front end's own facts about a session that the core does not hold
 * (E2B's template, metadata and access token): kept in the session's
 * record, so they come back with it after a restart of warrend.
 * `front_end` names the front end ("e2b"); value is stolen (NULL removes
 * it). -ENOMEM. */
int session_set_note(struct session *s, const char *front_end, json_t *value);
/* The note set (or restored) for front_end; NULL when none. */
const json_t *session_note(const struct session *s, const char *front_end);
/* Marks the session used now (idle timeout restarts). */
void session_touch(struct session *s);

/* The session ends timeout_ms from now at the latest (its maximum
 * lifetime moves; the idle timeout still applies), within the daemon's
 * max_lifetime counted from its creation: 400 beyond it. */
int session_set_timeout(struct session *s, uint64_t timeout_ms, struct wd_error *err);

/* What a session looks like from outside. */
struct session_info {
	const char *id, *owner, *image, *policy, *backend;
	time_t created, last_used, expires;   /* wall clock */
	uint64_t idle_timeout_ms, max_lifetime_ms;
	bool dead, pooled;
	const char *dead_reason;
	unsigned execs_running;
	const struct policy_limits *limits;
};
void session_info(const struct session *s, struct session_info *out);
const char *session_id(const struct session *s);
/* Its network as a front end shows it. */
struct session_network_info {
	const char *mode;             /* "none", "egress" */
	const struct net_allow *allow; /* egress: the session's list now */
	char address[46], address6[46]; /* egress: the sandbox's own addresses ("" when none) */
};
void session_network_info(const struct session *s, struct session_network_info *out);
/* An allowlist as its text entries ("pypi.org", "198.51.100.0/24:443"). */
json_t *session_net_allow_json(const struct net_allow *allow);
/* Replaces a live egress session's allowlist (entries within the
 * policy's: 400 otherwise; 409 for a session without egress or whose
 * sandbox died). New connections and DNS answers follow it at once;
 * connections already open go on. */
int session_set_allow(struct session *s, char *const *allow, size_t n, struct wd_error *err);
/* Each egress session's traffic, for /metrics. */
struct session_net_stats {
	const char *session_id;
	uint64_t out_bytes, in_bytes;        /* allowed traffic */
	uint64_t connections;                /* allowed new connections */
	uint64_t denied_packets, denied_bytes;
	uint64_t dns_queries, dns_denied;    /* names asked; names refused (NXDOMAIN) */
};
void sessions_net_foreach(void (*fn)(const struct session_net_stats *st, void *data), void *data);
/* DNS names refused to every session since start. */
uint64_t sessions_dns_denied_total(void);

/* 409 when the session's sandbox died. */
int session_check_alive(const struct session *s, struct wd_error *err);
/* Bytes one file write may hold (max_file_size). */
uint64_t session_max_file_size(const struct session *s);

/* ---- commands ----------------------------------------------------------- */

/* One command as a front end asks for it. */
struct exec_request {
	char *const *argv;          /* NULL-terminated; read during the call */
	char *const *env;           /* "KEY=VALUE" over the session's; NULL: none */
	const char *cwd;            /* NULL: /workspace */
	bool cwd_anywhere;          /* cwd may be any absolute directory of the sandbox (E2B's
				     * commands), not only the workspace and below it */
	const void *stdin_data;
	size_t stdin_len;
	uint64_t timeout_ms;        /* 0: the session's limit; above it: 400 */
	bool no_timeout;            /* none at all: it runs until signalled or its session ends
				     * (a server whose work the front end bounds itself: an E2B
				     * code context's interpreter, each of whose runs it times) */
	uint64_t output_cap;        /* 0: the session's limit; above it: 400 */
	bool keep_output;           /* the result carries the output (buffered replies) */
	const char *request_id;
	/* A process's (process.h): not bound to its followers and its output
	 * not capped (they keep what they may), stdin kept open, a terminal. */
	bool detached;
	bool stdin_open;
	bool pty;
	uint16_t cols, rows;
};
/* Checks the request against the session (cwd, timeout, output), admits
 * it (max_execs_per_session, the token's cap: 429) and starts it,
 * followed by `first`. Unless detached, the exec is bound to its
 * followers: when the last one leaves (exec_unobserve), it is killed.
 * NULL with err set. */
struct exec *session_exec(struct session *s, const struct exec_request *r, struct exec_observer *first,
			  struct wd_error *err);

/* A restarted daemon's: exec `id`, which still runs in s's adopted box,
 * as r describes it (detached: a process's), its output on fds (taken);
 * counted like any. NULL with err set. */
struct exec *session_exec_adopt(struct session *s, uint32_t id, const struct exec_request *r, const int *fds,
				int n_fds, struct exec_observer *first, struct wd_error *err);

/* ---- the daemon's life ------------------------------------------------------ */

/* At start-up, after the listeners are bound: takes back the sessions a
 * previous run left (session-record.c) and removes what it cannot. */
int sessions_init(struct wd_error *err);
/* SIGTERM: kills running execs and destroys every sandbox (asynchronously). */
void sessions_drain(void);
/* True once sessions_drain has nothing left to clean up. */
bool sessions_drained(void);
/* SIGUSR2 (a restart): execs a request holds are killed and answered
 * with `why`; sessions whose sandboxes cannot outlive the daemon end;
 * the others, their processes and their records stay for the next
 * daemon. */
void sessions_leave(const char *why);
/* True once sessions_leave has nothing left to clean up. */
bool sessions_left(void);
/* SIGUSR1 (warrend --drain): no new sessions; true once every session
 * has ended on its own (deleted or expired). */
bool sessions_all_ended(void);
/* SIGHUP: re-reads the policy files. */
void sessions_reload_policies(void);
/* Counts for /v1/health and /metrics. */
unsigned sessions_active(void);
unsigned runs_active(void);
uint64_t sessions_created_total(void);
/* Called from the tick (every 20 ms) after the core's own work: the
 * layer above's periodic chores (heartbeats, clients that left). */
void sessions_on_tick(void (*fn)(uint64_t now_ms));
