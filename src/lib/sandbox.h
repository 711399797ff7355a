/* A one-shot sandbox: create it, run one command in it with the caller's
 * stdio, wait (enforcing the timeout), report, and remove every trace. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"
#include "userns.h"

struct collect_pattern;
struct template_store;

struct sandbox_spec {
	const struct policy *policy;   /* effective policy: limits already tightened */
	const char *image;             /* NULL or "host", or a root filesystem directory */
	const char *workspace_dir;     /* host directory for /workspace, NULL for a tmpfs */
	char *const *argv;             /* the command; argv[0] searched in PATH */
	char *const *extra_env;        /* "KEY=VALUE" added to the policy's env, or NULL */
	const char *cwd;               /* inside the sandbox; NULL means /workspace */
	const char *cgroup_name;       /* NULL: generated */
	int verbose;                   /* 0 quiet, 1 steps, 2 steps + seccomp filter */
	/* A terminal (warren run -t): the command gets a pty of the
	 * sandbox's own as its 0, 1, 2 and controlling terminal, relayed to
	 * our stdout, sized as our terminal (80x24 without one) and resized on
	 * SIGWINCH. With `interactive` our stdin is relayed to it, and made
	 * raw while the command runs when it is a terminal. Without `tty` the
	 * command gets our stdio itself. */
	bool tty;
	bool interactive;
	/* warren run --collect (not with tty): once the command has ended,
	 * what these patterns match in its /workspace and /tmp is copied into
	 * the host directory output_fd (collect.h: collect_sink_dir), within
	 * the policy's "collect" limits, read as the sandbox user. */
	const struct collect_pattern *collect;
	size_t n_collect;
	int output_fd;
	struct template_store *templates; /* root: where the root's template is kept, or NULL */
};

struct sandbox_result {
	bool exited;          /* the command exited (else it was signalled) */
	int exit_code;        /* when exited */
	int signal;           /* when signalled */
	bool timed_out;
	bool oom_killed;
	uint64_t duration_ms; /* wall time of the command */
	int exit_status;      /* what a shell would see: code, 128+N, 124 timeout,
			       * 125 setup failure, 126/127 exec failure */
	uint64_t memory_peak; /* bytes, 0 when unknown */
	/* With collect: collect_run's report (the caller frees it), or NULL
	 * with collect_error saying why nothing could be collected. */
	json_t *collected;
	char collect_error[256];
};

/* Returns 0 when the command ran (whatever its status), or -errno with the
 * reason in e when the sandbox could not be set up or the command could not
 * be executed; res->exit_status is meaningful either way. While it runs,
 * SIGINT, SIGTERM and SIGHUP (with a tty also SIGQUIT) kill the sandbox and
 * end the call; our terminal is as it was whenever it returns. */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e);
/* The same with spec->tty (oneshot-tty.c): the command runs as an exec of
 * a persistent init, the way warrend's terminals do. */
int sandbox_run_terminal(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e);

/* Removes the cgroups of runs killed before they could (SIGKILL): those
 * whose marker names a process that is gone (sandbox_run does this first);
 * with everything (warrend at start) also every run-PID-* cgroup whose PID
 * is gone, markers or not. Root only; returns how many directories went. */
unsigned sandbox_run_sweep_stale(bool everything);

struct init_event;
/* Fills exited/exit_code/signal/exit_status from a wait status. */
void sandbox_result_from_status(struct sandbox_result *res, int status);
/* The one-line error for an init event reporting a failure. */
int sandbox_event_error(const struct init_event *ev, wr_error *e);
/* What a run makes of an event read whole from init (untrusted; its
 * strings are cut here): 1 when the command ended (res filled), 0 for
 * INIT_EV_READY, or -errno with the reason in e when the command could not
 * start or the sandbox not be set up (res->exit_status says which) or the
 * type is unknown. */
int sandbox_event_result(struct init_event *ev, struct sandbox_result *res, wr_error *e);

/* Exit statuses warren run documents (warren(1) EXIT STATUS). */
#define WARREN_EXIT_TIMEOUT 124     /* like timeout(1) */
#define WARREN_EXIT_SETUP 125       /* warren itself failed: bad flag, policy, setup */
#define WARREN_EXIT_NOEXEC 126      /* the command was found but could not run */
#define WARREN_EXIT_NOTFOUND 127    /* the command was not found */

/* ---- persistent sandboxes (warrend's sessions) -----------------------------
 * init stays up and runs commands on request; everything here is
 * non-blocking so an event loop can drive it. */
struct spawn_options;
struct cgroup;
struct sandbox;

/* Spawns a sandbox whose init waits for exec requests (o->argv must be
 * NULL). It becomes ready when init sends INIT_EV_READY. */
int sandbox_create(const struct spawn_options *o, struct sandbox **out, wr_error *e);
/* warrend: a sandbox asked of the spawner (spawner.h) learns its pid and
 * cgroup from the spawner's answer, which precedes init's first message:
 * call this when a message arrives (the accessors below call it too). */
void sandbox_settle(struct sandbox *sb);
/* Our end of the init socket (SOCK_SEQPACKET), for the event loop. */
int sandbox_fd(const struct sandbox *sb);
/* Someone else (warrend's loop) closes that fd from now on. */
void sandbox_give_fd(struct sandbox *sb);
pid_t sandbox_pid(const struct sandbox *sb);
struct cgroup *sandbox_cgroup(const struct sandbox *sb);
/* The host uid that uid `inside` of the sandbox maps to. */
uid_t sandbox_host_uid(const struct sandbox *sb, uid_t inside);
const struct uid_range *sandbox_ids(const struct sandbox *sb);
/* Its egress link, rules and resolver socket (lock_fd -1 without egress). */
struct net_egress;
struct net_egress *sandbox_net(struct sandbox *sb);

/* After EOF on its socket: waits for init to end (it is ending) and
 * gives its wait status. 0 or -errno. */
int sandbox_wait_init(struct sandbox *sb, int *status);

/* Checks an event read from init (untrusted): 0, or -EBADMSG. */
int sandbox_event_validate(const struct init_event *ev);

struct sandbox_exec {
	uint32_t id;                /* unique within the sandbox, > 0 */
	char *const *argv;
	char *const *envp;
	const char *cwd;            /* absolute path inside the sandbox */
	int stdio[3];               /* the command's 0, 1, 2 (we keep our copies); stdin
				     * may be a pipe the caller keeps writing to */
	/* A terminal instead of stdio: init opens a pty in the sandbox's
	 * devpts, the command gets its slave as 0, 1, 2 and controlling
	 * terminal, and the master arrives on pty_reply's peer
	 * (pty_receive_master) once the command runs, or that socket sees
	 * EOF when it could not start. */
	bool pty;
	uint16_t pty_cols, pty_rows;  /* the window size; 0: the kernel's default */
	int pty_reply;              /* one end of a SOCK_SEQPACKET socketpair (we keep our copy) */
	/* It outlives the daemon (INIT_EXEC_KEEP): init keeps `own` (our ends
	 * of stdout and stderr; with a pty, its master) for the next one, and
	 * own[2], our end of its stdin, when that is not -1. */
	bool keep;
	int own[3];
};
/* Creates the exec's child cgroup "exec-ID" and sends the request with the
 * fds. The result arrives as INIT_EV_EXITED (after INIT_EV_EXEC_FAILED when
 * it could not start). */
int sandbox_exec_start(struct sandbox *sb, const struct sandbox_exec *x, wr_error *e);
/* Sends signal `sig` to the process group of exec `id` (the command and
 * what it started without leaving its group). -EINVAL for a signal outside
 * 1..64; 0 once sent, even if the exec has just ended. Never blocks. */
int sandbox_exec_signal(struct sandbox *sb, uint32_t id, int sig);
/* What the sandbox's init understands (INIT_PROTOCOL_VERSION; a taken-back
 * sandbox's from its greeting): older inits get no INIT_EXEC_KEEP_STDIN. */
void sandbox_set_init_version(struct sandbox *sb, int version);
/* Exec `id`'s stdin (own[2]) was closed: init drops its copy. */
int sandbox_exec_close_stdin(struct sandbox *sb, uint32_t id);
/* SIGKILLs everything exec ID started (its child cgroup), nothing else. */
int sandbox_exec_kill(struct sandbox *sb, uint32_t id);
/* Removes the exec's child cgroup: 0, or -EBUSY while processes remain. */
int sandbox_exec_release(struct sandbox *sb, uint32_t id);

/* ---- outliving the daemon (warrend's restarts) -----------------------------
 * A kept sandbox's init outlives warrend and waits for the next one on a
 * listening unix socket under warrend's root-only state directory
 * (init-protocol.h INIT_REQ_KEEP). */

/* From now on the sandbox outlives its parent: init gets `listener` (a
 * listening SOCK_SEQPACKET unix socket; ours stays ours to close). */
int sandbox_keep(struct sandbox *sb, int listener, wr_error *e);

/* What a restarted daemon knows of a kept sandbox. */
struct sandbox_record {
	pid_t pid;                    /* its init */
	unsigned long long start_time; /* /proc/PID/stat field 22 */
	const char *cgroup;           /* cgroup_export() text */
	const char *cgroup_name;      /* the cgroup's own name: wd-... */
	int control_dir;              /* where its listener is bound */
	const char *control_name;     /* and under which name */
	struct uid_range ids;         /* taken again by the caller */
};
/* Takes back a kept sandbox when it can prove it is the one recorded:
 * the pid started at start_time, sits in that cgroup, and answers on the
 * listener. What runs in it (and what ended meanwhile) goes into *found.
 * The uid range is the sandbox's from now on (released with it). */
struct init_greeting;
int sandbox_adopt(const struct sandbox_record *r, struct sandbox **out, struct init_greeting *found, wr_error *e);
/* Closes the fds a greeting still holds (those not taken: n_fds 0). */
void init_greeting_release(struct init_greeting *g);
/* sandbox-adopt.c's constructor (sandbox.c): an adopted sandbox of these
 * parts, taken (init is not our child). NULL on no memory. */
struct sandbox *sandbox_of_parts(pid_t pid, int sock, struct cgroup *cg, const struct uid_range *ids);
/* /proc/PID/stat's start time (field 22); -errno. */
int proc_start_time(pid_t pid, unsigned long long *out);
/* Whether pid sits in a cgroup named `name` (in any hierarchy). */
bool proc_in_cgroup_named(pid_t pid, const char *name);

/* Destroys without blocking: kills init (and so every process of the
 * sandbox), reaps it, removes the cgroup, releases the uid range. Returns
 * 0 when all is gone (sb is freed), -EBUSY to be called again later. */
int sandbox_destroy_step(struct sandbox *sb);
/* The same, blocking up to ~2 s (exit paths). */
void sandbox_destroy(struct sandbox *sb);
