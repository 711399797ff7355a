/* The daemon's sandboxes ("boxes"), their pools and the commands run in
 * them. A box wraps a persistent sandbox (src/lib/sandbox.h) and its init
 * socket on the event loop; a pool keeps boxes of one (image, policy) pair
 * ready; an exec is one command with its pipes, deadline and result. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include <jansson.h>

#include "backend.h"
#include "policy.h"
#include "seccomp-filter.h"

struct box;
struct pool;
struct exec;
struct session;

enum box_state { BOX_STARTING, BOX_IDLE, BOX_LEASED, BOX_DEAD };

/* Called once when a box leaves BOX_STARTING: error NULL when ready. */
typedef void (*box_ready_fn)(struct box *b, void *data, const char *error);

/* Finds or creates the pool of (backend, image, policy); on failure
 * returns NULL with an HTTP status (400 unknown image/policy) and a message. */
struct pool *pool_get(enum backend_kind backend, const char *image, const char *policy, int *status, char *err,
		      size_t errlen);
enum backend_kind pool_backend(const struct pool *p);
const struct policy *pool_policy(const struct pool *p);
const char *pool_image(const struct pool *p);
const char *pool_policy_name(const struct pool *p);
/* A ready box from the pool (a hit), or NULL (a miss); refills later. */
struct box *pool_lease(struct pool *p);
/* A new box for a miss: `ready` is called when it is up or failed. With
 * limits, the box is created with those instead of the policy's. */
int pool_cold_create(struct pool *p, const struct policy_limits *limits, box_ready_fn ready, void *data, char *err,
		     size_t errlen);
/* Whether a leased box can take a session's tighter limits (else it must be
 * created with them: pool_cold_create with limits). */
bool pool_limits_live(const struct pool *p);
/* Whether limits are tighter than the pool policy's. */
bool pool_limits_tighter(const struct pool *p, const struct policy_limits *l);
/* Pools as JSON for /v1/health, and counters for /metrics. */
void pools_describe(json_t *array);
/* Keeps `count` ready boxes in the default pool from start-up on. */
void pools_set_target(unsigned count);

enum box_state box_state(const struct box *b);
const struct backend_ops *box_ops(const struct box *b);
struct backend_box *box_backend(const struct box *b);
struct pool *box_pool(const struct box *b);
void box_set_session(struct box *b, struct session *s);
/* Kills every running exec and destroys the box (in the background). */
void box_destroy(struct box *b);
/* Applies tighter limits to a leased box's cgroup. */
int box_set_limits(struct box *b, const struct policy_limits *l, char *err, size_t errlen);

/* ---- execs ---------------------------------------------------------------- */

struct exec_params {
	enum backend_exec_kind kind; /* a command, or a file operation (backends without open_workspace) */
	const char *path;      /* file operations: the normalized workspace path */
	uint64_t max_size;     /* file operations: the largest file */
	char **argv;           /* NULL-terminated, owned by the caller until exec_start returns */
	char **envp;
	const char *cwd;
	const void *stdin_data;
	size_t stdin_len;
	uint64_t timeout_ms;
	uint64_t output_cap;   /* bytes kept of stdout+stderr together */
};

struct exec_result {
	bool exited;
	int exit_code;
	int signal;
	bool timed_out, oom_killed, truncated;
	bool failed_to_start;  /* exec_error holds why */
	char exec_error[256];
	uint64_t duration_ms;
	/* buffered output, up to the cap (not kept when on_output takes it) */
	char *out[2];
	size_t out_len[2];
	bool out_base64[2];    /* out[i] goes into JSON as base64 (output_needs_base64,
				* judged as it arrived) */
};

struct exec_callbacks {
	/* Output as it arrives (stream 0 = stdout, 1 = stderr); optional. */
	void (*on_output)(struct exec *x, void *data, int stream, const char *buf, size_t len);
	/* Once, when the command ended and its output is drained. It may take
	 * r->out[i] (setting it NULL); the exec frees what is left. */
	void (*on_done)(struct exec *x, void *data, struct exec_result *r);
	void *data;
};

/* Starts a command in a leased or pooled box. Returns NULL with err set. */
struct exec *exec_start(struct box *b, const struct exec_params *p, const struct exec_callbacks *cb,
			char *err, size_t errlen);
/* The client is gone: kill what the exec started; on_done is not called. */
void exec_abandon(struct exec *x);
/* Backpressure: while paused the command's pipes are not read (it blocks
 * once they are full), so a client that does not read holds it back. */
void exec_pause_output(struct exec *x, bool paused);
/* The result JSON of api.md without stdout and stderr (the exit event of
 * a stream; replies with output add them through exec-reply.h). */
json_t *exec_result_json(const struct exec_result *r);

/* ---- the daemon's clock: one tick drives deadlines, refills, reaping ---- */
void box_tick(uint64_t now_ms);
/* Everything is destroyed and reaped. */
bool boxes_all_gone(void);
void boxes_destroy_all(void);
