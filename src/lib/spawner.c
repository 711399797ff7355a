#include "config.h"
#include "spawner.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "cleanup.h"
#include "clock.h"
#include "init-protocol.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "template.h"

#define SPAWNER_ARG "--spawner"
/* What the two ends of the socket must agree on: a warren-spawner of
 * another build refuses to serve (and warrend then runs its own binary). */
#define SPAWNER_PROTOCOL PACKAGE_VERSION "/1"
#define SPAWNER_HELLO "warren-spawner " SPAWNER_PROTOCOL
#define SPAWNER_MAX_MESSAGE (192 * 1024)  /* a request: header, names, the policy */
#define SPAWNER_LATE_MS 30000             /* an answer later than this: the spawner is wedged */
#define SPAWNER_MAX_DEATHS 5              /* within SPAWNER_DEATH_WINDOW_MS: stop restarting */
#define SPAWNER_DEATH_WINDOW_MS 60000
#define POLICY_CACHE 8                    /* policies the spawner keeps parsed and compiled */

enum { SPAWNER_REQ_SPAWN = 1 };

/* daemon -> spawner, followed by the cgroup name, the image ("" for host)
 * and the policy's JSON, each NUL-terminated; init's socket as SCM_RIGHTS. */
struct spawner_request {
	uint32_t type;
	uint32_t verbose;
	uint64_t id;
	uint32_t host_base, count, slot;
	uint32_t caller_uid, caller_gid;
	uint32_t cgroup_len, image_len, policy_len; /* with their NULs */
};

/* spawner -> daemon, one per request; sent as long as the text in it
 * (the daemon's socket holds every answer not read yet). */
struct spawner_reply {
	uint64_t id;
	int32_t err;                 /* 0, or a positive errno */
	int32_t pid;                 /* init (the daemon's child); 0 when none was cloned */
	char text[4096];             /* why it failed, or cgroup_export */
};
#define REPLY_HEADER offsetof(struct spawner_reply, text)

/* ==== the daemon's side ======================================================== */

struct pending {
	uint64_t id;
	struct spawned *s;
	uint64_t sent_ms;
};

static struct {
	pid_t pid;
	int sock;                    /* ours; -1 when no spawner runs */
	char program[PATH_MAX];      /* what we run as the spawner */
	struct uid_pool *ids;
	char *state_dir;
	int verbose;
	bool started;
	pid_t owner;                 /* the daemon: a forked child never stops it */
	uint64_t next_id;
	struct pending *pending;
	size_t n_pending, cap_pending;
	uint64_t deaths[SPAWNER_MAX_DEATHS];
	size_t n_deaths;
	char failed[256];            /* why we stopped restarting it */
} d = { .sock = -1 };

static void spawner_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void spawner_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("warrend: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* fork+exec of the spawner program, from a vfork child: no copy of our
 * memory, and only the socket crosses the exec (everything else is
 * O_CLOEXEC). */
static int launch(wr_error *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return wr_error_set(e, errno, "spawner: socketpair");
	char fd_arg[16], verbose_arg[16], parent_arg[16];
	snprintf(fd_arg, sizeof fd_arg, "%d", 3);
	snprintf(verbose_arg, sizeof verbose_arg, "%d", d.verbose);
	snprintf(parent_arg, sizeof parent_arg, "%d", (int)getpid());
	char *argv[] = { "warren-spawner", SPAWNER_ARG, fd_arg, d.state_dir, verbose_arg, parent_arg,
			 SPAWNER_PROTOCOL, NULL };
	extern char **environ;
	pid_t pid = vfork();
	if (pid == 0) {
		/* dup2 onto 3 clears O_CLOEXEC; 3 itself needs it cleared by hand */
		if (sv[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(sv[1], 3) < 0)
			_exit(127);
		execve(d.program, argv, environ);
		_exit(127);
	}
	int err = errno;
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return wr_error_set(e, err, "spawner: vfork");
	}
	d.pid = pid;
	d.sock = sv[0];
	return 0;
}

/* warren-spawner beside us (a build directory) or where it is installed:
 * a small static program. Without it, or one of another build, our own
 * binary serves (its inits then are clones of a larger process). */
static bool next_program(int attempt)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash = n > 0 ? memrchr(self, '/', (size_t)n) : NULL;
	switch (attempt) {
	case 0:
		if (!slash)
			return false;
		snprintf(d.program, sizeof d.program, "%.*s/warren-spawner", (int)(slash - self), self);
		break;
	case 1:
		snprintf(d.program, sizeof d.program, "%s/warren-spawner", WARREN_PKGLIBEXECDIR);
		break;
	case 2:
		snprintf(d.program, sizeof d.program, "/proc/self/exe");
		return true;
	default:
		return false;
	}
	return access(d.program, X_OK) == 0;
}

/* The spawner says hello once it serves: it is the right one. */
static bool hello(void)
{
	struct pollfd p = { .fd = d.sock, .events = POLLIN };
	char buf[128];
	ssize_t n = poll(&p, 1, 10000) == 1 ? recv(d.sock, buf, sizeof buf - 1, 0) : -1;
	if (n > 0)
		buf[n] = '\0';
	return n > 0 && !strcmp(buf, SPAWNER_HELLO);
}

int spawner_start(const char *state_dir, int verbose, wr_error *e)
{
	if (!(d.state_dir = strdup(state_dir)))
		return wr_error_set(e, ENOMEM, "spawner");
	d.verbose = verbose;
	if (geteuid() == 0) {
		int r = uid_pool_open(&d.ids, NULL, e);
		if (r < 0)
			return r;
	}
	int r = -ENOENT;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!next_program(attempt))
			continue;
		if ((r = launch(e)) < 0)
			return r;
		if (hello())
			break;
		spawner_log("%s is not a spawner of this warrend%s", d.program,
			    attempt < 2 ? "; trying the next" : "");
		close(d.sock);
		d.sock = -1;
		kill(d.pid, SIGKILL);
		waitpid(d.pid, NULL, 0);
		r = wr_error_set(e, EPROTO, "spawner: %s did not start", d.program);
	}
	if (r < 0)
		return r;
	if (strcmp(d.program, "/proc/self/exe")) {
		if (d.verbose)
			spawner_log("spawner: %s (pid %d)", d.program, (int)d.pid);
	} else
		spawner_log("spawner: warrend's own binary (pid %d): no warren-spawner beside it or in %s, so each "
			    "sandbox's init is a copy of this larger process", (int)d.pid, WARREN_PKGLIBEXECDIR);
	d.started = true;
	d.owner = getpid();
	return 0;
}

bool spawner_in_use(void) { return d.started; }

int spawner_take_ids(const struct uid_range *want, struct uid_range *out, wr_error *e)
{
	if (!d.ids) {
		*out = (struct uid_range){ .lock_fd = -1, .rootless = true, .caller_uid = getuid(), .caller_gid = getgid() };
		return geteuid() == 0 ? wr_error_set(e, ENOTSUP, "spawner: no uid pool") : 0;
	}
	return uid_pool_take(d.ids, want->slot, want->host_base, want->count, want->handed, out, e);
}

int spawner_hand_over_ids(struct uid_range *r, int *fd, wr_error *e)
{
	*fd = -1;
	return d.ids && r->pool ? uid_pool_hand_over(d.ids, r, fd, e) : 0;
}
pid_t spawner_pid(void) { return d.sock >= 0 ? d.pid : 0; }

int spawner_health(wr_error *e)
{
	if (d.failed[0])
		return wr_error_set(e, 0, "%s", d.failed);
	return 0;
}

static void fail_pending(const char *why)
{
	for (size_t i = 0; i < d.n_pending; i++)
		d.pending[i].s->remote_id = 0; /* no pid: its socket's EOF ends it */
	if (d.n_pending)
		spawner_log("%zu sandbox(es) being created are lost with it: %s", d.n_pending, why);
	d.n_pending = 0;
}

/* The spawner is gone (or wedged: then we end it). Its sandboxes are our
 * children and live on; those it was creating fail. */
static void spawner_died(const char *how)
{
	if (d.sock < 0)
		return;
	close(d.sock);
	d.sock = -1;
	kill(d.pid, SIGKILL);
	int status = 0;
	while (waitpid(d.pid, &status, 0) < 0 && errno == EINTR)
		;
	char what[64];
	if (WIFEXITED(status))
		snprintf(what, sizeof what, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(what, sizeof what, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	spawner_log("!!! the spawner (pid %d) is gone (%s, %s)", (int)d.pid, how, what);
	fail_pending("the spawner is gone");
	uint64_t now = monotonic_ms();
	size_t recent = 0;
	for (size_t i = 0; i < d.n_deaths; i++)
		recent += now - d.deaths[i] < SPAWNER_DEATH_WINDOW_MS;
	d.deaths[d.n_deaths++ % SPAWNER_MAX_DEATHS] = now;
	if (d.n_deaths > SPAWNER_MAX_DEATHS)
		d.n_deaths = SPAWNER_MAX_DEATHS;
	if (recent + 1 >= SPAWNER_MAX_DEATHS) {
		snprintf(d.failed, sizeof d.failed, "the spawner died %d times within %d s (last: %s); no sandbox "
			 "can be created until warrend restarts", SPAWNER_MAX_DEATHS, SPAWNER_DEATH_WINDOW_MS / 1000,
			 what);
		spawner_log("!!! %s", d.failed);
		return;
	}
	wr_error e = { 0 };
	if (launch(&e) < 0) {
		snprintf(d.failed, sizeof d.failed, "the spawner could not be restarted: %s", e.message);
		spawner_log("!!! %s", d.failed);
		return;
	}
	spawner_log("spawner restarted (pid %d)", (int)d.pid);
}

static struct pending *find_pending(uint64_t id)
{
	for (size_t i = 0; i < d.n_pending; i++)
		if (d.pending[i].id == id)
			return &d.pending[i];
	return NULL;
}

static void drop_pending(struct pending *p)
{
	*p = d.pending[--d.n_pending];
}

static void apply_reply(const struct spawner_reply *r)
{
	struct pending *p = find_pending(r->id);
	if (!p)
		return; /* forgotten meanwhile */
	struct spawned *s = p->s;
	drop_pending(p);
	s->remote_id = 0;
	s->pid = r->pid > 0 ? r->pid : 0;
	if (r->err == 0) {
		wr_error e = { 0 };
		if (cgroup_import(r->text, &s->cg, &e) < 0)
			spawner_log("spawner: %s", e.message);
	} else {
		spawner_log("spawner: %s", r->text);
	}
}

void spawner_collect(void)
{
	while (d.sock >= 0) {
		static struct spawner_reply r;
		ssize_t n = recv(d.sock, &r, sizeof r, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == (ssize_t)strlen(SPAWNER_HELLO) && !memcmp(&r, SPAWNER_HELLO, (size_t)n))
			continue; /* a restarted spawner is up */
		if (n <= (ssize_t)REPLY_HEADER || ((char *)&r)[n - 1] != '\0') {
			spawner_died(n == 0 ? "its socket closed" : "it sent a malformed answer");
			return;
		}
		apply_reply(&r);
	}
	uint64_t now = monotonic_ms();
	for (size_t i = 0; i < d.n_pending; i++)
		if (now - d.pending[i].sent_ms > SPAWNER_LATE_MS) {
			spawner_died("an answer is 30 s late: killed");
			return;
		}
}

int spawner_forget(struct spawned *s, bool force)
{
	if (!s->remote_id)
		return 0;
	spawner_collect();
	struct pending *p = find_pending(s->remote_id);
	if (!p)
		return 0;
	if (!force && d.sock >= 0 && kill(d.pid, 0) == 0)
		return -EBUSY;
	drop_pending(p);
	s->remote_id = 0;
	return 0;
}

static int add_pending(struct spawned *s, uint64_t id)
{
	if (d.n_pending == d.cap_pending) {
		size_t cap = d.cap_pending ? 2 * d.cap_pending : 16;
		struct pending *grown = realloc(d.pending, cap * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		d.pending = grown;
		d.cap_pending = cap;
	}
	d.pending[d.n_pending++] = (struct pending){ .id = id, .s = s, .sent_ms = monotonic_ms() };
	return 0;
}

static int send_request(const struct spawner_request *hdr, const char *cgroup, const char *image,
			const char *policy, int fd)
{
	struct iovec iov[4] = {
		{ (void *)hdr, sizeof *hdr }, { (void *)cgroup, hdr->cgroup_len },
		{ (void *)image, hdr->image_len }, { (void *)policy, hdr->policy_len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 4, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	size_t len = sizeof *hdr + hdr->cgroup_len + hdr->image_len + hdr->policy_len;
	ssize_t n = sendmsg(d.sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

int spawner_request(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	*s = SPAWNED_EMPTY;
	if (o->argv)
		return wr_error_set(e, EINVAL, "spawner: one-shot sandboxes are spawned in place");
	if (d.failed[0])
		return wr_error_set(e, EAGAIN, "%s", d.failed);
	int r = d.ids ? uid_pool_acquire(d.ids, &s->ids, e) : uid_range_acquire(&s->ids, NULL, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *policy = NULL;
	json_t *j = policy_to_json(o->policy);
	if (j) {
		policy = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	const char *image = o->image ? o->image : "", *cgroup = o->cgroup_name ? o->cgroup_name : "";
	int sv[2] = { -1, -1 };
	if (!policy)
		r = wr_error_set(e, ENOMEM, "spawner: the policy as JSON");
	else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		r = wr_error_set(e, errno, "socketpair");
	struct spawner_request hdr = {
		.type = SPAWNER_REQ_SPAWN, .verbose = (uint32_t)o->verbose, .id = ++d.next_id,
		.host_base = (uint32_t)s->ids.host_base, .count = s->ids.count, .slot = s->ids.slot,
		.caller_uid = (uint32_t)s->ids.caller_uid, .caller_gid = (uint32_t)s->ids.caller_gid,
		.cgroup_len = (uint32_t)strlen(cgroup) + 1, .image_len = (uint32_t)strlen(image) + 1,
		.policy_len = policy ? (uint32_t)strlen(policy) + 1 : 0,
	};
	if (r == 0 && sizeof hdr + hdr.cgroup_len + hdr.image_len + hdr.policy_len > SPAWNER_MAX_MESSAGE)
		r = wr_error_set(e, E2BIG, "spawner: the policy is larger than %d KiB as JSON", SPAWNER_MAX_MESSAGE / 1024);
	/* a spawner found dead is replaced, and the request goes to the new one */
	for (int attempt = 0; r == 0 && attempt < 2; attempt++) {
		if (d.sock < 0) {
			r = wr_error_set(e, EAGAIN, "%s", d.failed[0] ? d.failed : "no spawner runs");
			break;
		}
		int sent = send_request(&hdr, cgroup, image, policy, sv[1]);
		if (sent == 0)
			break;
		if (sent != -EPIPE && sent != -ECONNRESET) {
			r = wr_error_set(e, -sent, "send the request to the spawner%s",
					 sent == -EAGAIN ? " (too many requests at once)" : "");
			break;
		}
		spawner_died("its socket closed");
	}
	if (sv[1] >= 0)
		close(sv[1]);
	if (r == 0 && add_pending(s, hdr.id) < 0)
		r = wr_error_set(e, ENOMEM, "spawner");
	if (r < 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		uid_range_release(&s->ids);
		return r;
	}
	s->sock = sv[0];
	s->remote_id = hdr.id;
	return 0;
}

void spawner_stop(void)
{
	if (!d.started || getpid() != d.owner)
		return;
	if (d.sock >= 0) {
		close(d.sock);
		d.sock = -1;
		/* it exits on EOF; bounded, it is killed otherwise */
		for (int i = 0; i < 200 && waitpid(d.pid, NULL, WNOHANG) == 0; i++)
			usleep(10 * 1000);
		if (kill(d.pid, SIGKILL) == 0)
			waitpid(d.pid, NULL, 0);
	}
	fail_pending("warrend is stopping");
	free(d.pending);
	d.pending = NULL;
	d.cap_pending = 0;
	free(d.state_dir);
	d.state_dir = NULL;
	uid_pool_close(d.ids); /* only after every sandbox released its range */
	d.ids = NULL;
	d.started = false;
}

/* ==== the spawner process ========================================================= */

struct cached_policy {
	char *text;
	struct policy *policy;
	struct seccomp_program seccomp;
	uint64_t used;
};

static struct cached_policy cache[POLICY_CACHE];
static uint64_t cache_clock;

static void cached_policy_free(struct cached_policy *c)
{
	free(c->text);
	policy_free(c->policy);
	seccomp_program_free(&c->seccomp);
	*c = (struct cached_policy){ 0 };
}

/* The daemon sends the effective policy with every request; most are the
 * same few (one per pool): parsed and compiled once each. */
static struct cached_policy *policy_for(const char *text, size_t len, wr_error *e)
{
	struct cached_policy *slot = &cache[0];
	for (size_t i = 0; i < POLICY_CACHE; i++) {
		if (cache[i].text && !strcmp(cache[i].text, text)) {
			cache[i].used = ++cache_clock;
			return &cache[i];
		}
		if (cache[i].used < slot->used)
			slot = &cache[i];
	}
	struct cached_policy fresh = { 0 };
	int r = policy_parse(text, len, "warrend's policy", &fresh.policy, e);
	if (r == 0)
		r = seccomp_program_build(fresh.policy, &fresh.seccomp, e);
	if (r == 0 && !(fresh.text = strdup(text)))
		r = wr_error_set(e, ENOMEM, "policy cache");
	if (r < 0) {
		cached_policy_free(&fresh);
		return NULL;
	}
	cached_policy_free(slot);
	*slot = fresh;
	slot->used = ++cache_clock;
	return slot;
}

/* Tells the sandbox's socket (the daemon's box) why it never came up. */
static void report_setup_failure(int fd, const wr_error *e)
{
	struct init_event ev = { .type = INIT_EV_SETUP_FAILED, .err = e->code > 0 ? e->code : EIO };
	snprintf(ev.step, sizeof ev.step, "%.*s", (int)sizeof ev.step - 1, e->message);
	(void)!send(fd, &ev, sizeof ev, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int reply(int sock, const struct spawner_reply *r)
{
	size_t len = REPLY_HEADER + strlen(r->text) + 1;
	for (;;) {
		if (send(sock, r, len, MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

struct request {
	struct spawner_request hdr;
	const char *cgroup, *image, *policy;
	int fd;
};

static int parse_request(char *buf, size_t n, int fd, struct request *q)
{
	if (n < sizeof q->hdr)
		return -EBADMSG;
	memcpy(&q->hdr, buf, sizeof q->hdr);
	const struct spawner_request *h = &q->hdr;
	size_t want = sizeof *h + (size_t)h->cgroup_len + h->image_len + h->policy_len;
	if (h->type != SPAWNER_REQ_SPAWN || want != n || !h->cgroup_len || !h->image_len || !h->policy_len ||
	    fd < 0)
		return -EBADMSG;
	q->cgroup = buf + sizeof *h;
	q->image = q->cgroup + h->cgroup_len;
	q->policy = q->image + h->image_len;
	if (q->cgroup[h->cgroup_len - 1] || q->image[h->image_len - 1] || q->policy[h->policy_len - 1])
		return -EBADMSG;
	q->fd = fd;
	return 0;
}

static void serve_one(int sock, struct template_store *templates, const struct request *q)
{
	static struct spawner_reply r;
	memset(&r, 0, sizeof r);
	r.id = q->hdr.id;
	wr_error e = { 0 };
	struct spawned s = SPAWNED_EMPTY;
	const struct cached_policy *pol = policy_for(q->policy, q->hdr.policy_len - 1, &e);
	int rc = pol ? 0 : -EINVAL;
	const struct uid_range ids = {
		.host_base = q->hdr.host_base, .count = q->hdr.count, .slot = q->hdr.slot, .lock_fd = -1,
		.caller_uid = q->hdr.caller_uid, .caller_gid = q->hdr.caller_gid, .rootless = geteuid() != 0,
	};
	struct spawn_options o = {
		.policy = pol ? pol->policy : NULL, .image = q->image[0] ? q->image : NULL,
		.cgroup_name = q->cgroup[0] ? q->cgroup : NULL, .verbose = (int)q->hdr.verbose,
		.seccomp = pol ? &pol->seccomp : NULL, .templates = templates, .ids = &ids, .init_sock = q->fd,
		.clone_parent = true,
	};
	if (rc == 0)
		rc = spawn_start(&o, &s, &e);
	r.pid = s.pid;
	if (rc == 0 && cgroup_export(s.cg, r.text, sizeof r.text) < 0)
		rc = wr_error_set(&e, ENAMETOOLONG, "spawner: cgroup path too long");
	if (rc < 0) {
		r.err = e.code > 0 ? e.code : EIO;
		snprintf(r.text, sizeof r.text, "%s", e.message);
		spawned_release(&s, NULL); /* kills a cloned init (the daemon reaps it) */
		r.pid = s.pid;
	}
	/* The answer goes before "go": the daemon has it before init's first
	 * message (or its failure, below). */
	int sent = reply(sock, &r);
	if (rc < 0)
		report_setup_failure(q->fd, &e);
	else if (sent < 0 || spawn_go(&o, &s, &e) < 0)
		spawned_release(&s, NULL);
	else
		cgroup_forget(s.cg); /* the daemon's now */
	if (sent < 0)
		_exit(0); /* the daemon is gone */
}

static int serve(int sock, struct template_store *templates)
{
	static char buf[SPAWNER_MAX_MESSAGE];
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				      .msg_controllen = sizeof control.buf };
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : 1; /* the daemon closed it: done */
		int fd = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(c), sizeof fd);
		struct request q;
		if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || parse_request(buf, (size_t)n, fd, &q) < 0) {
			fprintf(stderr, "warren-spawner: a malformed request: exiting\n");
			return 1;
		}
		serve_one(sock, templates, &q);
		close(fd);
	}
}

int spawner_main_if_asked(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], SPAWNER_ARG))
		return -1;
	if (argc != 7 || strcmp(argv[6], SPAWNER_PROTOCOL)) {
		fprintf(stderr, "warren-spawner " SPAWNER_PROTOCOL ": asked for another protocol (%s)\n",
			argc == 7 ? argv[6] : "none");
		return 3;
	}
	int sock = atoi(argv[2]), verbose = atoi(argv[4]);
	pid_t parent = (pid_t)atoi(argv[5]);
	prctl(PR_SET_NAME, "warren-spawner");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1; /* the daemon is gone already */
	/* what the daemon blocked and handles itself, inits must not inherit */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (sock != 3 || syscall(SYS_close_range, 4, ~0U, 0) < 0) {
		fprintf(stderr, "warren-spawner: started wrongly\n");
		return 1;
	}
	struct template_store *templates = NULL;
	if (geteuid() == 0) {
		char dir[PATH_MAX];
		wr_error e = { 0 };
		snprintf(dir, sizeof dir, "%s/templates", argv[3]);
		mkdir(argv[3], 0755); /* the daemon's state directory, made by whoever comes first */
		if (template_store_open_private(dir, &templates, &e) < 0)
			fprintf(stderr, "warren-spawner: no templates (%s): sandboxes build their whole root\n", e.message);
		else if (verbose)
			fprintf(stderr, "warren-spawner: templates in a mount namespace of their own at %s\n", dir);
	}
	if (send(sock, SPAWNER_HELLO, strlen(SPAWNER_HELLO), MSG_NOSIGNAL) < 0)
		return 1;
	int status = serve(sock, templates);
	template_store_close(templates);
	if (templates) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/templates", argv[3]);
		rmdir(dir); /* mounted on in our namespace only: empty on the host */
	}
	for (size_t i = 0; i < POLICY_CACHE; i++)
		cached_policy_free(&cache[i]);
	return status;
}
