/* The daemon's ground floor: its configuration and state, its clock, its
 * log and the event loop's small primitives (loop.h). Everything above
 * (the core, the HTTP server, the front ends) includes this; this includes
 * nothing of theirs. One process, one event loop thread: nothing here is
 * locked. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct st_h2o_evloop_t;

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct daemon_config {
	char **listen;              /* "unix:/run/warren/warrend.sock", "127.0.0.1:8080" */
	size_t n_listen;
	mode_t socket_mode;         /* 0660 */
	char *socket_group;         /* group owning the unix socket; NULL: "warren" if it exists, else root's */
	char *state_dir;            /* /run/warren */
	char *tokens_file;          /* /etc/warren/tokens; NULL or missing: no tokens */
	bool auth_local;            /* require a token on the unix socket too */
	bool tokenless_loopback;    /* serve requests without a token on loopback TCP (opt-out) */
	char **allowed_origins;     /* Origin values accepted on requests without a token */
	size_t n_allowed_origins;
	char **allowed_hosts;       /* Host names accepted on TCP requests without a token */
	size_t n_allowed_hosts;
	uint64_t auth_head_max;     /* bytes read from a connection before it authenticated, 16 KiB */
	unsigned auth_pending_max;  /* connections waiting to authenticate at once, 256 */
	uint64_t auth_timeout_ms;   /* for the first request head to arrive, 10 s */
	bool allow_backend_choice;  /* a request may name a backend other than the default */
	char *policy_dir;           /* where NAME.json policies live */
	char *image_dir;            /* /var/lib/warren/images */
	char *default_image;        /* "host" */
	char *default_policy;       /* "default" */
	unsigned pool_size;         /* target idle sandboxes per pool, 8 */
	unsigned max_sessions;      /* 1000 */
	char *host_ids;             /* "FIRST-LAST" host ids for sandboxes; NULL: userns.h's default */
	unsigned host_ids_per_sandbox; /* 16384 */
	unsigned max_sessions_per_token; /* 100 */
	unsigned max_execs_per_session;  /* commands running at once in one session, 64 */
	unsigned max_execs_per_token;    /* the same summed over a token's sessions, 512 */
	unsigned max_processes_per_session; /* processes kept (running, or ended with their output), 16 */
	unsigned max_process_followers;  /* clients following one process's output at once, 8 */
	uint64_t process_buffer;    /* output kept per process for followers, 1 MiB */
	uint64_t idle_timeout_ms;   /* 1 h */
	uint64_t max_lifetime_ms;   /* 24 h */
	uint64_t max_body;          /* file uploads, 64 MiB */
	uint64_t max_json_body;     /* JSON requests, 1 MiB */
	uint64_t max_file_size;     /* one workspace file, 64 MiB */
	uint64_t mcp_session_timeout_ms;    /* an MCP session unused this long ends, 1 h */
	unsigned max_mcp_sessions_per_token; /* MCP sessions one token holds at once, 16 */
	char *e2b_listen;           /* "127.0.0.1:3000": E2B's API on its own listener; NULL: none */
	char **e2b_templates;       /* "NAME IMAGE [POLICY]": E2B template ids over the built-in ones */
	size_t n_e2b_templates;
	/* artifacts: collected files kept under STATE/artifacts (warrend.conf(5)) */
	char *public_url;           /* what artifact URLs start with ("https://host"); NULL: the request's Host */
	char *artifact_key_file;    /* their HMAC key, 64 hex digits; NULL: STATE/artifact.key, made at first start */
	uint64_t artifact_ttl_ms;   /* how long an artifact and its URL live, 5 h */
	uint64_t artifact_inline_max; /* a file up to this comes back inline (base64), 64 KiB */
	uint64_t artifact_quota;    /* bytes of artifacts kept in all, 1 GiB */
	uint64_t artifact_quota_per_token; /* the same per token, 256 MiB */
	int verbose;
	int log_format;             /* enum log_format: text */
	bool access_log;            /* one line per request (on) */
	int backend;                /* enum backend_kind: native */
	int backend_fallback;       /* used when `backend` is unhealthy at start; -1: none */
	struct {
		char *runtime;      /* "runc" */
	} oci;
	struct {
		char *socket;       /* "/run/docker.sock" */
		char *image_prefix; /* "warren-": image NAME is engine image warren-NAME */
		char *host_image;   /* the engine image standing in for "host": "warren-minimal" */
	} docker;
};

struct daemon {
	struct daemon_config cfg;
	struct st_h2o_evloop_t *loop;
	bool draining;
	uint64_t started_ms;
	const char *cgroup_mode;    /* "v1" or "v2" */
	int backend;                /* the default backend in use (the fallback, when it had to be) */
	char state_tag[12];         /* 8 hex digits naming state_dir in kept sandboxes' names */
};
extern struct daemon *daemon_state;

/* Monotonic milliseconds. */
uint64_t daemon_now_ms(void);

/* ---- the log ------------------------------------------------------------
 * One line per event on stderr ("warrend: …", or one JSON object with
 * log_format = json), or structured fields in the journal when stderr is
 * the journal's stream (JOURNAL_STREAM). Every line names the request and
 * the session it was caused by: the context below, set while a request's
 * handler runs and while the core runs a callback of that request's
 * work (its exec ending, its sandbox dying). */

struct log_ctx {
	const char *request_id;     /* NULL: none */
	const char *session_id;
};
/* Makes ctx the current context and returns the previous one, which the
 * caller hands back to log_ctx_restore (LOG_CTX_SCOPE does both). The
 * strings must outlive the scope. */
struct log_ctx log_ctx_enter(const char *request_id, const char *session_id);
void log_ctx_restore(struct log_ctx *saved);
#define LOG_CTX_SCOPE(rid, sid) \
	__attribute__((cleanup(log_ctx_restore))) struct log_ctx log_ctx_saved_ = log_ctx_enter((rid), (sid))
const struct log_ctx *log_ctx_current(void);

void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One request, as the access log records it. */
struct access_entry {
	const char *request_id;
	const char *token;          /* the token's name, never the token; NULL: none */
	const char *method, *path;  /* as sent (escaped for the log here) */
	size_t method_len, path_len;
	int status;
	uint64_t bytes;
	double duration_ms;
	const char *session_id;     /* NULL: none */
};
void daemon_log_access(const struct access_entry *a);
/* A DNS name an egress sandbox asked for and was refused, in the access
 * log: the session, the request that created it, the name (escaped),
 * and how many refusals before it went unlogged (rate limit). */
void daemon_log_dns_denied(const char *request_id, const char *session_id, const char *name, unsigned suppressed);
/* Picks the journal when stderr is its stream (call once config is read). */
void daemon_log_setup(void);

/* ---- request ids ---------------------------------------------------------- */
#define REQUEST_ID_MAX 64
/* Whether an incoming X-Request-Id can be kept: 1 to REQUEST_ID_MAX
 * characters of [A-Za-z0-9._:-] (nothing that could forge a log field). */
bool request_id_valid(const char *s, size_t len);
/* A new id: 24 hex digits, into out[REQUEST_ID_MAX + 1]. */
void request_id_new(char *out);
