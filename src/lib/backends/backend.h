/* Backends: what runs warrend's sandboxes. The daemon's pools, sessions,
 * execs, files and limits are written once against this interface:
 *   native  warren's own runtime (sandbox.c): the fast path and the default;
 *   oci     an OCI runtime binary (runc, crun) driven with a config.json
 *           translated from the policy (backend-oci.c, oci-spec.c);
 *   docker  the Docker Engine API over its unix socket (backend-docker.c),
 *           also served by podman's `podman system service`.
 *
 * Everything a backend does for the daemon is non-blocking: the event loop
 * calls it. Work that takes time (running runc, talking to the engine)
 * happens in child processes whose end the backend reports as events.
 * Events reach the daemon in one of two ways: a backend with an event fd
 * (native: the init socket) has the loop read it and hands the bytes to
 * parse_event; the others are polled (poll) from the daemon's tick and
 * whenever the pipes of one of their commands reach EOF. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "cgroup.h"
#include "error.h"
#include "policy.h"
#include "seccomp-filter.h"

enum backend_kind { BACKEND_NATIVE, BACKEND_OCI, BACKEND_DOCKER, BACKEND_COUNT };

/* What warrend.conf says about the backends (strings owned by the caller,
 * alive as long as the daemon). */
struct backend_settings {
	const char *state_dir;          /* /run/warren: oci keeps its --root below it */
	const char *image_dir;          /* /var/lib/warren/images */
	struct {
		const char *runtime;    /* "runc", "crun" or a path */
	} oci;
	struct {
		const char *socket;     /* "/run/docker.sock" or podman's socket */
		const char *image_prefix; /* warren image NAME is engine image PREFIX+NAME */
		const char *host_image; /* the engine image that stands in for "host" */
	} docker;
	const char *cgroup_prefix;      /* "wd-": names of what a crashed daemon left */
	int verbose;
};

/* One sandbox to create. */
struct backend_spec {
	const struct policy *policy;           /* effective policy */
	const char *image;                     /* the image's name: "host", "python" */
	const char *image_path;                /* its root filesystem, NULL for host */
	const struct seccomp_program *seccomp; /* compiled once per pool (native) */
	const char *name;                      /* unique: cgroup and container name */
};

enum backend_event_type {
	BACKEND_EV_READY = 1,      /* the sandbox is up */
	BACKEND_EV_SETUP_FAILED,   /* it never will be: message says why */
	BACKEND_EV_EXEC_FAILED,    /* exec_id could not start (err ENOENT: not found); EXITED follows */
	BACKEND_EV_EXITED,         /* exec_id ended with wait status `status` */
	BACKEND_EV_DIED,           /* the sandbox is gone (its init died, the container stopped) */
};

struct backend_event {
	enum backend_event_type type;
	uint32_t exec_id;
	int status;                /* EXITED: a wait(2) status */
	int err;                   /* *_FAILED: an errno */
	char message[1024];        /* *_FAILED, DIED: one line (runtimes' errors name long paths) */
};

/* What one exec is. Files are execs too for backends without a workspace
 * directory fd (docker): their result is an exit status (0, or an errno
 * value), stdout carries the data (GET: the bytes; LIST: one JSON object
 * per line {"name","type","size","mode","mtime"}, with "name_base64" in
 * place of "name" for a name that is not UTF-8) and stderr one line of
 * error (ESTALE: the sandbox changed the path while it was looked up). PUT
 * reads the content from stdin. Paths are files_normalize()d. */
enum backend_exec_kind {
	BACKEND_EXEC_COMMAND,
	BACKEND_FILE_PUT,
	BACKEND_FILE_GET,          /* a regular file; a directory answers EISDIR */
	BACKEND_FILE_LIST,
	BACKEND_FILE_DELETE,       /* directories recursively */
};

struct backend_exec {
	uint32_t id;               /* unique within the box, > 0 */
	enum backend_exec_kind kind;
	char *const *argv;         /* COMMAND */
	char *const *envp;         /* COMMAND */
	const char *cwd;           /* COMMAND: absolute, inside the sandbox */
	const char *path;          /* FILE_*: workspace-relative, normalized ("" = /workspace) */
	uint64_t max_size;         /* FILE_GET/PUT: the largest file accepted */
	int stdio[3];              /* its 0, 1, 2 (the backend dups what it keeps); stdin may
				    * be a pipe the caller keeps writing to as it likes */
	/* COMMAND: it outlives a restart of the daemon (a background
	 * process): the sandbox holds `own` (our ends of stdout and stderr)
	 * too, so the command never writes into a pipe nobody reads, and
	 * hands them back to the next daemon (adopt). Backends that cannot
	 * ignore it (its command then ends with the daemon). own[2]: our
	 * end of its stdin when the caller keeps writing to it (else -1),
	 * which the sandbox holds too, so the command does not read
	 * end-of-file when the daemon goes (exec_close_stdin drops it). */
	bool keep;
	int own[3];
};

/* A terminal for an exec (exec_start_terminal). */
struct backend_terminal {
	uint16_t cols, rows;       /* the window size at start; 0: the kernel's default */
	int reply;                 /* one end of a SOCK_SEQPACKET socketpair: the master
				    * arrives on its peer (the backend dups what it keeps) */
};

struct backend_stats {
	uint64_t memory_peak;      /* bytes, 0 when unknown */
	uint64_t oom_kills;        /* OOM kills in the sandbox so far */
};

struct backend_box;            /* each backend's own */
struct init_greeting;          /* init-protocol.h */
struct net_egress;

struct backend_ops {
	const char *name;          /* "native", "oci", "docker" */
	/* How long a sandbox may take to become READY before the daemon gives
	 * up on it (the others start containers through other programs). */
	unsigned start_timeout_ms;
	/* Once at start-up: keeps the settings, prepares state directories. */
	int (*init)(const struct backend_settings *s, wr_error *e);
	/* At exit, once every sandbox is gone: removes the backend's (now
	 * empty) state directories, so nothing of it stays. NULL: none. */
	void (*fini)(void);
	/* 0 when it can create sandboxes now, else why not; a healthy
	 * backend may leave a warning in e (/v1/health shows it: docker's
	 * engine cannot list its containers). May block: for under a second
	 * at start-up, then in a child every 10 s (where docker also repeats
	 * remove_stale's sweep); never per request. */
	int (*health)(wr_error *e);
	/* Starts creating a sandbox; READY or SETUP_FAILED follows. */
	int (*create)(const struct backend_spec *spec, struct backend_box **out, wr_error *e);
	/* The fd whose bytes go to parse_event, or -1 (then poll is used).
	 * The daemon takes it over right after create: it closes it (its
	 * loop's socket does) and the backend never does, though it may send
	 * on it until destroy_step. One fd per sandbox, not two: a host's fd
	 * limit must hold 10,000 sessions. */
	int (*event_fd)(const struct backend_box *b);
	/* One event from the start of buf: bytes used, 0 when more are needed,
	 * -EBADMSG for bytes no sandbox of ours would send. */
	ssize_t (*parse_event)(struct backend_box *b, const void *buf, size_t len, struct backend_event *ev);
	/* 1 with the next event in *ev, 0 when there is none. */
	int (*poll)(struct backend_box *b, struct backend_event *ev);
	/* Starts x; its end arrives as EXITED (after EXEC_FAILED when it could
	 * not start). -EOPNOTSUPP for a kind the backend does not do. */
	int (*exec_start)(struct backend_box *b, const struct backend_exec *x, wr_error *e);
	/* SIGKILLs everything exec `id` started, nothing else; called again
	 * each tick until the exec has ended. */
	int (*exec_kill)(struct backend_box *b, uint32_t id);
	/* The exec ended: release what it held (0, or -EBUSY to call later). */
	int (*exec_release)(struct backend_box *b, uint32_t id);
	int (*stats)(struct backend_box *b, struct backend_stats *st);
	/* Tightens the limits of a live sandbox at once (a leased one gets its
	 * session's). NULL when a sandbox takes its limits only when it is
	 * created (docker: podman has no update API, Docker's is not atomic
	 * with the lease): sessions with tighter limits are then created cold,
	 * with their own. */
	int (*set_limits)(struct backend_box *b, const struct cgroup_limits *l, wr_error *e);
	/* Begins tearing down without blocking; 0 when all is gone (b is
	 * freed), -EBUSY to call again later. */
	int (*destroy_step)(struct backend_box *b);
	/* An O_PATH fd of the sandbox's /workspace for files.c and the host
	 * ids of the sandbox user, or -errno. NULL: the backend has no
	 * workspace on this host and does files as file execs (docker). */
	int (*open_workspace)(struct backend_box *b, uid_t *uid, gid_t *gid);
	/* The same for the sandbox's /tmp (collecting files: collect.h), NULL
	 * where open_workspace is. */
	int (*open_tmp)(struct backend_box *b);
	/* The sandbox's own cgroup (warrend charges its file writes there),
	 * or NULL (docker: the engine's). */
	struct cgroup *(*cgroup)(struct backend_box *b);
	/* The sandbox's init as a host pid, or -1 when not known. */
	pid_t (*init_pid)(const struct backend_box *b);
	/* One line for the session object: "cgroup v2 …", "runc container …". */
	void (*describe)(const struct backend_box *b, char *buf, size_t len);
	/* At start-up: removes what a crashed daemon of this host left
	 * (containers, state) whose names start with the prefix, sparing the
	 * names keep() says belong to a daemon still alive (an engine is
	 * shared by every daemon of the host). */
	unsigned (*remove_stale)(const char *prefix, bool (*keep)(const char *name));

	/* Processes with a terminal, and signals (optional: NULL when the
	 * backend lacks them; the daemon then refuses such requests). */
	/* Starts x (a COMMAND; x->stdio unused) with a terminal: the command
	 * gets a new pty's slave, from the sandbox's own devpts, as its 0, 1,
	 * 2 and controlling terminal. The master is sent on t->reply
	 * (pty_receive_master() on its peer, pty.h) once the command runs;
	 * the peer sees EOF when it could not start (EXEC_FAILED and EXITED
	 * follow as after exec_start). The caller then owns the master:
	 * reads are the output, writes the input, pty_set_size() resizes,
	 * closing it hangs the terminal up. */
	int (*exec_start_terminal)(struct backend_box *b, const struct backend_exec *x,
				   const struct backend_terminal *t, wr_error *e);
	/* Sends signal sig to exec id's process group (the command and what
	 * it started in its group): -EINVAL outside 1..64; 0 once sent, even
	 * when the exec has just ended (its EXITED says so). */
	int (*exec_signal)(struct backend_box *b, uint32_t id, int sig);
	/* A kept command's stdin (own[2]) was closed by its caller: the
	 * sandbox drops its copy, and the command reads end-of-file. NULL:
	 * the backend keeps no copy. */
	int (*exec_close_stdin)(struct backend_box *b, uint32_t id);

	/* Restarts of the daemon (warrend(8) RESTARTS). Optional: a backend
	 * without them has its sandboxes end with the daemon. */
	/* A session holds the sandbox now: it outlives the daemon from now
	 * on, under the new name `name` (its cgroup's: the stale sweeps of
	 * other daemons spare it). -EOPNOTSUPP with why not (then it ends
	 * with the daemon). */
	int (*keep)(struct backend_box *b, const char *name, wr_error *e);
	/* What a restarted daemon needs to find a kept sandbox again, for
	 * its session's record (new reference), or NULL. */
	json_t *(*save)(const struct backend_box *b);
	/* A restarted daemon takes back the sandbox `saved` describes, under
	 * the new name `name` (64 bytes; a fixed_name backend writes there
	 * the name its sandbox keeps), once it proved it is the one recorded
	 * and alive; what still runs in it, or ended while no daemon ran,
	 * goes into *found (fds included: the caller's). -errno with why not. */
	int (*adopt)(const json_t *saved, char *name, struct backend_box **out, struct init_greeting *found,
		     wr_error *e);
	/* The sandbox keeps the name it was created with for its whole life
	 * (an OCI runtime's container id and the cgroup path it recorded):
	 * the daemon creates its sandboxes under kept names (wd-PID-kTAG-N)
	 * at once, keep gets that same name, and a restarted daemon spares
	 * the names of the sandboxes it adopted in its stale sweeps. */
	bool fixed_name;
	/* Optional: the same decided on this host (the native backend's
	 * sandboxes on cgroup v2, whose cgroups cannot be renamed). */
	bool (*names_fixed)(void);
	/* Removes the sandbox `saved` describes, which was not adopted: never
	 * a process the record merely names (its pid may be another's now). */
	void (*discard)(const json_t *saved);

	/* The sandbox's egress (network.mode "egress"): its link, rules and
	 * the resolver's socket, whose forwarder the daemon serves
	 * (net-egress.h); NULL for a sandbox without. A backend without this
	 * op cannot give sessions egress (the daemon refuses it). */
	struct net_egress *(*net)(struct backend_box *b);
};

/* Whether a session may have the policy's network: never the host's (a
 * sandbox on it reaches warrend's own listeners), and egress only from a
 * backend with the `net` op. 0, or -EPERM / -EOPNOTSUPP saying so. The
 * daemon checks before it asks a backend; each backend checks again. */
int backend_check_network(const struct backend_ops *ops, const struct policy *p, wr_error *e);

/* An O_PATH fd of the directory `dir` ("workspace", "tmp") in the root
 * of the sandbox whose init is `pid` (/proc/PID/root: root only), never
 * through a symbolic link. -errno. */
int backend_open_in_root(pid_t pid, const char *dir);

/* The backend of a kind; NULL when this build lacks it. */
const struct backend_ops *backend_get(enum backend_kind k);
/* fixed_name, or names_fixed() says so */
bool backend_names_fixed(const struct backend_ops *ops);
/* "native" / "oci" / "docker" -> kind; -EINVAL for other names. */
int backend_kind_parse(const char *name, enum backend_kind *out);
const char *backend_kind_name(enum backend_kind k);

extern const struct backend_ops backend_native_ops;
extern const struct backend_ops backend_oci_ops;
extern const struct backend_ops backend_docker_ops;
