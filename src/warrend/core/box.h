/* The daemon's sandboxes ("boxes"), their pools and the commands run in
 * them. A box wraps a backend's sandbox (src/lib/backends/backend.h) and
 * its events on the loop; a pool keeps boxes of one (backend, image,
 * policy) ready; an exec is one command with its pipes, deadline,
 * observers and result. Nothing here knows of sessions or HTTP: whoever
 * leases a box tells it whom to report its death to. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "backend.h"
#include "list.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "wd-error.h"

struct box;
struct pool;
struct exec;

enum box_state { BOX_STARTING, BOX_IDLE, BOX_LEASED, BOX_DEAD };

/* Called once when a box leaves BOX_STARTING: error NULL when ready. */
typedef void (*box_ready_fn)(struct box *b, void *data, const char *error);
/* Called once when a leased box dies under its holder (OOM, init killed,
 * shutdown): the holder lets go of it (it is freed once reaped). */
typedef void (*box_died_fn)(void *holder, const char *why);

/* Finds or creates the pool of (backend, image, policy); on failure NULL
 * with e set (400 unknown image/policy). */
struct pool *pool_get(enum backend_kind backend, const char *image, const char *policy, struct wd_error *e);
/* The pool of the same (backend, image, policy) whose sandboxes have the
 * network `mode` instead of the policy's (lower: policy_set_network); p
 * itself when that is its mode. NULL with e set (400). */
struct pool *pool_with_network(struct pool *p, enum net_mode mode, struct wd_error *e);
enum backend_kind pool_backend(const struct pool *p);
const struct policy *pool_policy(const struct pool *p);
const char *pool_image(const struct pool *p);
const char *pool_policy_name(const struct pool *p);
/* A ready box from the pool (a hit), or NULL (a miss); refills later. */
struct box *pool_lease(struct pool *p);
/* A new box for a miss: `ready` is called when it is up or failed, never
 * from here. With limits, the box is created with those instead of the
 * policy's. */
int pool_cold_create(struct pool *p, const struct policy_limits *limits, box_ready_fn ready, void *data,
		     struct wd_error *e);
/* Whether a leased box can take tighter limits (else it must be created
 * with them: pool_cold_create with limits). */
bool pool_limits_live(const struct pool *p);
/* Whether limits are tighter than the pool policy's. */
bool pool_limits_tighter(const struct pool *p, const struct policy_limits *l);

/* One pool's figures, for /v1/health and /metrics. */
struct pool_stats {
	const char *backend, *image, *policy;
	const char *network;        /* its sandboxes' mode: the policy's, or lower */
	unsigned ready, starting, target, leased;
	uint64_t hits, misses, spawn_failures;
	const char *last_error;     /* NULL: none */
};
/* Calls fn for every pool in use (not retired). */
void pools_foreach(void (*fn)(const struct pool_stats *st, void *data), void *data);
/* Leases from a warm pool (hits) and cold creations (misses) since start. */
void pools_lease_counts(uint64_t *hits, uint64_t *misses);
/* Keeps `count` ready boxes in the default pool from start-up on. */
void pools_set_target(unsigned count);
/* New pools for every (image, policy) after a policy reload. */
void pools_retire(void);

enum box_state box_state(const struct box *b);
struct pool *box_pool(const struct box *b);
/* Who holds the box: died(holder, why) when it dies under them. */
void box_set_holder(struct box *b, box_died_fn died, void *holder);
/* The request that leased or last used the box and its holder's name,
 * for the log lines of its death (copied). */
void box_set_log_ids(struct box *b, const char *request_id, const char *session_id);
/* ---- restarts of the daemon (warrend(8) RESTARTS) ---------------------------- */
/* A sandbox name of this daemon's: wd-PID-N, or wd-PID-kTAG-N for one
 * that outlives it, TAG naming the state directory (daemon.h): the stale
 * sweeps of daemons read PID as the owner, and spare the kept sandboxes
 * of other state directories whatever their PID. */
void box_new_name(char *buf, size_t len, bool kept);
/* The box outlives the daemon from now on (its session holds it): 501
 * when its backend's sandboxes cannot (egress; docker). */
int box_keep(struct box *b, struct wd_error *err);
bool box_kept(const struct box *b);
/* What a restarted daemon needs to find it again (a new reference), or
 * NULL when it is not kept. */
json_t *box_save(const struct box *b);
/* A restarted daemon's: the box of a sandbox its backend adopted,
 * leased at once; its new execs are numbered above last_exec_id. */
struct box *box_adopt(struct pool *p, struct backend_box *bb, uint32_t last_exec_id, const char *name,
		      struct wd_error *err);
/* Whether a box of ours is named `name` (kept boxes, and a fixed_name
 * backend's: an adopted one keeps the previous daemon's pid in its name). */
bool box_name_held(const char *name);
/* warrend restarts: every exec a request holds is killed and ends with
 * `why` (its client hears it); those that outlive it (processes) run on.
 * Boxes not kept are destroyed. */
void boxes_leave(const char *why);
/* Every box that is not kept is destroyed and reaped. */
bool boxes_left(void);

/* Kills every running exec and destroys the box (in the background). */
void box_destroy(struct box *b);
/* Its egress (link, rules, resolver socket), or NULL without one. */
struct net_egress *box_net(const struct box *b);
/* Applies tighter limits to a leased box's cgroup. */
int box_set_limits(struct box *b, const struct policy_limits *l, struct wd_error *e);
/* The backend's view of the box (workspace.c and workspace-job.c). */
const struct backend_ops *box_ops(const struct box *b);
struct backend_box *box_backend(const struct box *b);
/* "cgroup v2 …": the backend's one line, and the init's pid (-1). */
void box_describe(const struct box *b, char *buf, size_t len, int *init_pid);

/* ---- execs ---------------------------------------------------------------- */

struct exec_params {
	enum backend_exec_kind kind; /* a command, or a file operation (backends without open_workspace) */
	const char *path;      /* file operations: the normalized workspace path */
	uint64_t max_size;     /* file operations: the largest file */
	char *const *argv;     /* NULL-terminated, read while exec_start runs */
	char *const *envp;
	const char *cwd;
	const void *stdin_data;
	size_t stdin_len;
	bool stdin_open;       /* stdin stays a pipe, fed by exec_write_stdin until exec_close_stdin */
	bool pty;              /* a terminal (the backend's exec_start_terminal) instead of pipes:
				* its output is stream 0, exec_write_stdin types into it */
	uint16_t cols, rows;   /* the terminal's size at start; 0: the kernel's default */
	uint64_t timeout_ms;
	uint64_t output_cap;   /* bytes kept of stdout+stderr together */
	bool keep_output;      /* buffered into the result (else only observers see it) */
	bool bound;            /* ends (killed) when its last observer leaves */
	bool keep;             /* outlives a restart of the daemon (a kept box's process) */
	const char *request_id; /* for its log lines (copied) */
	const char *session_id; /* the same */
	/* The holder's (the session's) own hook: called once when the exec
	 * ends, before its followers hear of it. Optional. */
	void (*ended)(void *holder, struct exec *x);
	void *holder;
};

struct exec_result {
	bool exited;
	int exit_code;
	int signal;
	bool timed_out, oom_killed, truncated;
	bool failed_to_start;  /* exec_error holds why */
	char exec_error[256];
	uint64_t duration_ms;
	/* buffered output, up to the cap (with keep_output) */
	char *out[2];
	size_t out_len[2];
	bool out_base64[2];    /* out[i] goes into JSON as base64 (output_needs_base64,
				* judged as it arrived) */
};

/* One follower of an exec: a request waiting for its result, a stream,
 * (issue 13) a client attached to a process. Embedded in the follower's
 * own object; the exec links it and calls it until it leaves or the exec
 * ends. */
struct exec_observer {
	/* Output as it arrives (stream 0 = stdout, 1 = stderr), with its
	 * sequence number: one counter for both streams, so followers can
	 * order stdout against stderr and say where they resume. Optional. */
	void (*on_output)(struct exec_observer *o, int stream, const char *buf, size_t len, uint64_t seq);
	/* Once, when the command ended and its output is drained. It may
	 * take r->out[i] (setting it NULL); the exec frees what is left. */
	void (*on_done)(struct exec_observer *o, struct exec_result *r);
	struct list link;      /* the exec's */
};

/* Starts a command in a leased box, followed by `first` (may be NULL).
 * Returns NULL with e set. */
struct exec *exec_start(struct box *b, const struct exec_params *p, struct exec_observer *first,
			struct wd_error *e);
void exec_observe(struct exec *x, struct exec_observer *o);
/* The follower leaves; on_done is not called for it. A bound exec whose
 * last follower left is killed. */
void exec_unobserve(struct exec *x, struct exec_observer *o);
/* Backpressure: while any follower holds it paused, the command's pipes
 * are not read (it blocks once they are full). */
void exec_pause_output(struct exec *x, bool paused);
/* Every exec's end, for the layer above's counters (metrics). */
void execs_on_finish(void (*fn)(const struct exec_result *r));
/* The id of an exec within its box (> 0), and its last sequence number. */
uint32_t exec_id(const struct exec *x);
/* A restarted daemon's: exec `id` that still runs in an adopted box,
 * started before the restart (p as exec_start's; argv unused). Its output
 * comes on fds (taken: stdout's and stderr's read ends, or a terminal's
 * master alone), or nowhere (n_fds 0). Its stdin, unless a terminal's,
 * stayed with the old daemon: it is closed. */
struct exec *exec_adopt(struct box *b, uint32_t id, const struct exec_params *p, const int *fds, int n_fds,
			struct exec_observer *first, struct wd_error *e);
/* Releases what exec `id` held in the box (it ended while no daemon ran). */
void box_release_exec(struct box *b, uint32_t id);
/* Kills exec x: it ends when its sandbox reports it. */
void exec_kill(struct exec *x);

/* ---- what goes into a running command (exec-input.c) ---------------------- */

/* Bytes a command's stdin (or terminal) may have waiting for it to read. */
#define EXEC_STDIN_QUEUE_MAX (1u << 20)
/* Queues bytes for its stdin, or types them into its terminal: 409 when
 * it has neither open, 429 while what waits would pass
 * EXEC_STDIN_QUEUE_MAX (the command is not reading). */
int exec_write_stdin(struct exec *x, const void *buf, size_t len, struct wd_error *err);
/* Closes its stdin once what is queued is written: the command reads
 * EOF. 409 for a terminal (type its EOF character instead) or none. */
int exec_close_stdin(struct exec *x, struct wd_error *err);
/* Whether exec_write_stdin can take more (its stdin or terminal is open). */
bool exec_stdin_open(const struct exec *x);
/* Sends sig to the command's process group. SIGKILL ends everything it
 * started instead (on every backend). 501 naming the backend when it
 * cannot send other signals; 409 once the command has ended. */
int exec_signal(struct exec *x, int sig, struct wd_error *err);
/* Sets its terminal's window size (the foreground job gets SIGWINCH);
 * 409 without a terminal. */
int exec_resize(struct exec *x, uint16_t cols, uint16_t rows, struct wd_error *err);

/* ---- the daemon's clock: one tick drives deadlines, refills, reaping ---- */
void box_tick(uint64_t now_ms);
/* Everything is destroyed and reaped. */
bool boxes_all_gone(void);
void boxes_destroy_all(void);
