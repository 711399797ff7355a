/* The docker backend's exec client (backend-docker.c starts it): the
 * engine's exec of a command over a hijacked connection, its output
 * copied to the client's stdout and stderr and its stdin from the
 * client's, and the info file through which the client tells the daemon
 * what it learnt; and the host's view of an exec's processes. Everything
 * here runs in the client, or blocks (docker_kill_tree: a few /proc
 * reads). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend-docker-internal.h"
#include "cleanup.h"
#include "docker-client.h"
#include "fdio.h"
#include "keep-waiter.h"

/* ---- the info file ------------------------------------------------------ */

void docker_info_append(int fd, const char *fmt, ...)
{
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (fd >= 0 && n > 0)
		(void)!write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

bool docker_info_taker(void *info_fd, pid_t *pid, unsigned long long *start)
{
	char buf[4096];
	ssize_t n = pread(*(int *)info_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	bool found = false;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		int p;
		unsigned long long s;
		if (sscanf(line, "taken %d %llu", &p, &s) == 2) {
			*pid = p;
			*start = s;
			found = true; /* (the last one counts) */
		}
	}
	return found;
}

void docker_info_read(const char *path, struct exec_info *in)
{
	memset(in, 0, sizeof *in);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[400];
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		int pid, code, err;
		unsigned long long start;
		int off = 0;
		if (sscanf(line, "exec %71s", in->engine_id) == 1)
			continue;
		if (sscanf(line, "pid %d %llu", &pid, &start) == 2) {
			in->pid = pid;
			in->start = start;
		} else if (sscanf(line, "client %d %llu", &pid, &start) == 2) {
			in->client_pid = pid;
			in->client_start = start;
		} else if (sscanf(line, "exit %d", &code) == 1) {
			in->have_exit = true;
			in->exit_code = code;
		} else if (sscanf(line, "failed %d %n", &err, &off) == 1 && off) {
			in->failed_err = err;
			snprintf(in->message, sizeof in->message, "%s", line + off);
		}
	}
}

/* ---- the exec --------------------------------------------------------------- */

/* What the engine says when the command could not start is the first
 * thing on stderr, before any of the command's output ("Error: runc: exec
 * failed: ..." from podman, "OCI runtime exec failed: ..." from dockerd);
 * it is held back until the exit code says whether it was that. */
struct pump {
	struct docker_demux demux;
	bool any_output;
	bool holding;
	char held[1024];
	size_t held_len;
};

static bool engine_error_text(const char *p, size_t n)
{
	static const char *const prefixes[] = { "Error: ", "OCI runtime exec failed", "OCI runtime error" };
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t l = strlen(prefixes[i]);
		if (n >= l && !memcmp(p, prefixes[i], l))
			return true;
	}
	return false;
}

static int pump_out(void *arg, int stream, const void *data, size_t n)
{
	struct pump *pm = arg;
	if (stream == 2 && !pm->any_output && (pm->holding || engine_error_text(data, n))) {
		pm->holding = true;
		size_t take = n < sizeof pm->held - pm->held_len ? n : sizeof pm->held - pm->held_len;
		memcpy(pm->held + pm->held_len, data, take);
		pm->held_len += take;
		if (take == n)
			return 0;
		/* too long for an engine error: it was the command's */
		pm->holding = false;
		int r = write_all(2, pm->held, pm->held_len);
		pm->held_len = 0;
		if (r < 0)
			return r;
		data = (const char *)data + take;
		n -= take;
	}
	if (pm->holding && stream != 2) {
		pm->holding = false;
		write_all(2, pm->held, pm->held_len);
		pm->held_len = 0;
	}
	pm->any_output = true;
	/* a reader that went away must not end the exec early: drop the bytes */
	write_all(stream == 2 ? 2 : 1, data, n);
	return 0;
}

/* Copies stdin to the stream (half-closing it at EOF) and the stream's
 * frames to stdout and stderr until the engine closes it. */
static int pump_stream(int sock, const char *pending, size_t pending_len, struct pump *pm)
{
	if (pending_len && docker_demux_feed(&pm->demux, pending, pending_len, pump_out, pm) < 0)
		return -EBADMSG;
	/* a command that ends before reading all its stdin (a write that hit
	 * a full workspace) closes the stream: EPIPE, not death by SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	/* kept: SIGURG asks it to drop its copy of stdin; it comes through
	 * only while ppoll waits (command_child blocked it before) */
	sigset_t urg, waiting;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	sigprocmask(SIG_BLOCK, &urg, &waiting);
	sigdelset(&waiting, SIGURG);
	bool stdin_open = true;
	char buf[65536];
	for (;;) {
		keep_waiter_drop_stdin();
		struct pollfd pfd[2] = { { .fd = sock, .events = POLLIN }, { .fd = stdin_open ? 0 : -1, .events = POLLIN } };
		if (ppoll(pfd, 2, NULL, &waiting) < 0) {
			if (errno != EINTR)
				return -errno;
			continue;
		}
		if (pfd[1].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n > 0 && write_all(sock, buf, (size_t)n) == 0)
				continue;
			if (n < 0 && errno == EINTR)
				continue;
			stdin_open = false;
			shutdown(sock, SHUT_WR);
		}
		if (pfd[0].revents) {
			ssize_t n = read(sock, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
			if (docker_demux_feed(&pm->demux, buf, (size_t)n, pump_out, pm) < 0)
				return -EBADMSG;
		}
	}
}

/* Classifies a start failure the engine reported in text. */
static int start_error(const char *text)
{
	if (strstr(text, "chdir") || strstr(text, "cwd"))
		return ENOTDIR;
	if (strstr(text, "not found") || strstr(text, "no such file or directory"))
		return ENOENT;
	if (strstr(text, "permission denied"))
		return EACCES;
	return EIO;
}

/* Runs argv in the container as the sandbox user with the child's stdio;
 * returns the exit code, or -errno when it could not start (message in e). */
int docker_engine_exec(const char *container, char *const *argv, char *const *envp, const char *cwd,
		       int info_fd, wr_error *e)
{
	char url[256];
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/%s/exec", container);
	json_t *body = json_pack("{s:b, s:b, s:b, s:o, s:s}", "AttachStdin", 1, "AttachStdout", 1, "AttachStderr", 1,
				 "Cmd", docker_strv_json(argv), "User", "1000:1000");
	if (envp)
		json_object_set_new(body, "Env", docker_strv_json(envp));
	if (cwd)
		json_object_set_new(body, "WorkingDir", json_string(cwd));
	json_t *out = NULL;
	int st = docker_call_json(docker_cfg.socket, "POST", url, body, CALL_TIMEOUT_MS, &out, e);
	json_decref(body);
	const char *id = json_string_value(json_object_get(out, "Id"));
	if (st != 201 || !id) {
		json_decref(out);
		return st == 404 ? -ESRCH : -EIO;
	}
	char exec_id[72];
	snprintf(exec_id, sizeof exec_id, "%s", id);
	json_decref(out);
	docker_info_append(info_fd, "exec %s\n", exec_id);

	snprintf(url, sizeof url, DOCKER_API_PREFIX "/exec/%s/start", exec_id);
	json_t *start = json_pack("{s:b, s:b}", "Detach", 0, "Tty", 0);
	_cleanup_free_ char *pending = NULL;
	size_t pending_len = 0;
	_cleanup_close_ int sock = docker_hijack(docker_cfg.socket, url, start, &pending, &pending_len, e);
	json_decref(start);
	if (sock < 0)
		return -start_error(e->message);

	snprintf(url, sizeof url, DOCKER_API_PREFIX "/exec/%s/json", exec_id);
	if (info_fd >= 0 && docker_call_json(docker_cfg.socket, "GET", url, NULL, CALL_TIMEOUT_MS, &out, NULL) == 200) {
		pid_t pid = (pid_t)json_integer_value(json_object_get(out, "Pid"));
		if (pid > 0)
			docker_info_append(info_fd, "pid %d %llu\n", (int)pid, docker_proc_start_time(pid));
		json_decref(out);
	}
	struct pump pm = { 0 };
	pump_stream(sock, pending, pending_len, &pm);

	/* the stream can end a moment before the engine records the exit */
	int code = -1;
	/* seconds under load: 40 containers exec'ing at once on two cores */
	for (int i = 0; i < 3000 && code < 0; i++) {
		int got = docker_call_json(docker_cfg.socket, "GET", url, NULL, CALL_TIMEOUT_MS, &out, e);
		if (got == 404 && pm.holding) {
			/* podman forgets an exec the runtime could not start: its error is all there is */
			pm.held[pm.held_len < sizeof pm.held ? pm.held_len : sizeof pm.held - 1] = '\0';
			pm.held[strcspn(pm.held, "\n")] = '\0';
			return wr_error_set(e, start_error(pm.held), "%s", pm.held);
		}
		if (got != 200)
			return -EIO;
		if (!json_is_true(json_object_get(out, "Running")))
			code = (int)json_integer_value(json_object_get(out, "ExitCode"));
		json_decref(out);
		if (code < 0)
			usleep(10000);
	}
	if (code < 0)
		return wr_error_set(e, ETIMEDOUT, "exec %s never ended", exec_id);
	if (pm.holding) {
		pm.held[pm.held_len < sizeof pm.held ? pm.held_len : sizeof pm.held - 1] = '\0';
		if (code == 126 || code == 127) {
			pm.held[strcspn(pm.held, "\n")] = '\0';
			return wr_error_set(e, start_error(pm.held), "%s", pm.held);
		}
		write_all(2, pm.held, pm.held_len);
	}
	return code;
}

/* ---- its processes on the host ---------------------------------------------- */

unsigned long long docker_proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* fields after the ")" that ends comm: state is 3rd, starttime 22nd */
	char *p = strrchr(buf, ')');
	unsigned long long start = 0;
	for (int field = 2; p && *p; p++)
		if (*p == ' ' && ++field == 22) {
			start = strtoull(p + 1, NULL, 10);
			break;
		}
	return start;
}

/* SIGKILLs pid and its descendants (by ppid in /proc). Processes that
 * left the tree (double fork, reparented to the container's pid 1) are
 * out of reach: they cannot be told from other execs' leftovers. */
void docker_kill_tree(pid_t root)
{
	size_t n = 0, cap = 256;
	pid_t(*pairs)[2] = malloc(cap * sizeof *pairs);
	_cleanup_closedir_ DIR *dir = opendir("/proc");
	struct dirent *de;
	while (pairs && dir && (de = readdir(dir))) {
		char *end, path[300], buf[512];
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		char *p = strrchr(buf, ')');
		int ppid;
		if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
			continue;
		if (n == cap) {
			pid_t(*np)[2] = realloc(pairs, 2 * cap * sizeof *pairs);
			if (!np)
				break;
			pairs = np;
			cap *= 2;
		}
		pairs[n][0] = (pid_t)pid;
		pairs[n][1] = ppid;
		n++;
	}
	kill(root, SIGKILL);
	/* breadth first over the snapshot: each pass adds the children of the killed */
	pid_t *killed = malloc((n + 1) * sizeof *killed);
	size_t nk = 0;
	if (killed)
		killed[nk++] = root;
	for (size_t k = 0; killed && k < nk; k++)
		for (size_t i = 0; i < n; i++)
			if (pairs[i][1] == killed[k]) {
				kill(pairs[i][0], SIGKILL);
				killed[nk++] = pairs[i][0];
			}
	free(killed);
	free(pairs);
}
