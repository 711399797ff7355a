/* warrend: the daemon's shared state and the tables each part registers.
 * One process, one h2o event loop thread: nothing here is locked. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>
#include <h2o.h>

#include "http.h"

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
	uint64_t idle_timeout_ms;   /* 1 h */
	uint64_t max_lifetime_ms;   /* 24 h */
	uint64_t max_body;          /* file uploads, 64 MiB */
	uint64_t max_json_body;     /* JSON requests, 1 MiB */
	uint64_t max_file_size;     /* one workspace file, 64 MiB */
	int verbose;
	int backend;                /* enum backend_kind: native */
	int backend_fallback;       /* used when `backend` is unhealthy at start; -1: none */
	char *oci_runtime;          /* "runc" */
	char *docker_socket;        /* "/run/docker.sock" */
	char *docker_image_prefix;  /* "warren-": image NAME is engine image warren-NAME */
	char *docker_host_image;    /* the engine image standing in for "host": "warren-minimal" */
};

struct daemon {
	struct daemon_config cfg;
	h2o_evloop_t *loop;
	bool draining;
	uint64_t started_ms;
	const char *cgroup_mode;    /* "v1" or "v2" */
	int backend;                /* the default backend in use (the fallback, when it had to be) */
};
extern struct daemon *daemon_state;

/* Route tables, one per part of the API (defined in their own files). */
extern const struct http_route session_routes[];  /* sessions.c: /v1/sessions…, /v1/run */
extern const struct http_route file_routes[];     /* files-routes.c: /v1/sessions/{id}/files/… */
extern const struct http_route compat_routes[];   /* compat.c: /create_session, /execute … */
extern const struct http_route admin_routes[];    /* admin.c: /v1/health, /metrics, /v1/openapi.json, /health */
extern const struct http_route image_routes[];    /* images.c: /v1/images */

/* Monotonic milliseconds. */
uint64_t daemon_now_ms(void);
/* One line on stderr (journald adds the time): "warrend: …". */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sessions.c (sessions, pools, execs): the lifecycle hooks main.c calls. */
/* At start-up, after the listeners are bound; on failure the daemon exits 1
 * with the message. */
int sessions_init(char *err, size_t errlen);
/* SIGTERM: kills running execs and destroys every sandbox (asynchronously). */
void sessions_drain(void);
/* True once sessions_drain has nothing left to clean up. */
bool sessions_drained(void);
/* SIGHUP: re-reads the policy files. */
void sessions_reload_policies(void);
/* Appends one object per pool: {"image","policy","ready":N,"target":N}. */
void pools_describe(json_t *array);


#include "metrics.h"
