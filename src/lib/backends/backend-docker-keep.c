/* The docker backend across restarts of warrend (warrend(8) RESTARTS).
 *
 * The engine keeps a container whatever becomes of the daemon, and the
 * engine maps its ids itself: there is no host id range of ours to hold
 * while no daemon runs (the oci backend's warren-ids). A kept container
 * is renamed as kept sandboxes are (wd-PID-kTAG-N: other daemons' sweeps
 * spare it), carries the label DOCKER_LABEL_STATE with the state
 * directory of its daemon from its creation, and its session's record
 * holds the engine's id, both names and the init's pid and start time.
 * A restarted daemon takes it back only when the engine's container of
 * that id still has one of those names and that label, runs, and its
 * init is that process; it renames it after itself.
 *
 * Commands. An exec's output reaches the daemon through the engine's
 * connection of a child of the daemon's (its client, backend-docker.c),
 * and the engine cannot attach to an exec again: the client is what a
 * native sandbox's init is for a background process (a kept command of a
 * kept container). Such a client does not die with the daemon, runs in a
 * session of its own, and holds the daemon's ends of the command's pipes
 * (keep-waiter.h), so output waits in them and stdin stays open while no
 * daemon runs. It writes "client PID START" into its info file (NAME.ID)
 * before the command exists, and "exit CODE" when it ended; it holds
 * that file open, so the next daemon renames it after the container's new
 * name. That daemon proves the client by its pid and start time, takes
 * its fds with pidfd_getfd, notes itself ("taken PID START") and watches
 * its pidfd; a client whose command ended with no daemon lingers with the
 * output until then (keep_waiter_linger). One whose client is gone
 * unseen, and a command a request held (its client died with the daemon),
 * is killed and reported so.
 *
 * Everything here blocks: it runs at start-up, before the daemon serves. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend-docker-internal.h"
#include "cleanup.h"
#include "docker-client.h"
#include "init-protocol.h"
#include "keep-waiter.h"

#define INSPECT_TIMEOUT_MS 10000

json_t *docker_saved_json(const char *name, const char *created_as, const char *id, pid_t init_pid,
			  unsigned long long init_start)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:I}", "container", name, "created_as", created_as, "id", id,
			 "init_pid", (int)init_pid, "init_start_time", (json_int_t)init_start);
}

static bool valid_name(const char *name)
{
	return !strncmp(name, "wd-", 3) && strlen(name) < 64 && !name[strcspn(name, "/.?&%#+ ")];
}

int docker_saved_parse(const json_t *saved, struct docker_saved *sv, wr_error *e)
{
	json_error_t je;
	*sv = (struct docker_saved){ 0 };
	if (json_unpack_ex((json_t *)saved, &je, JSON_STRICT, "{s:s, s:s, s:s, s:i, s:I}", "container", &sv->name,
			   "created_as", &sv->created_as, "id", &sv->id, "init_pid", &sv->init_pid, "init_start_time",
			   &sv->init_start) < 0)
		return wr_error_set(e, EBADMSG, "its docker state: %s", je.text);
	size_t id_len = strspn(sv->id, "0123456789abcdef");
	if (sv->init_pid <= 1 || sv->init_start <= 0 || id_len < 12 || id_len > 64 || sv->id[id_len] ||
	    !valid_name(sv->name) || !valid_name(sv->created_as))
		return wr_error_set(e, EBADMSG, "its docker state holds values out of range");
	return 0;
}

/* The engine's inspect of container id: 0 with *out, -ENOENT when it has
 * none, else -errno with why. */
static int inspect(const char *id, json_t **out, wr_error *e)
{
	char url[160];
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/%s/json", id);
	wr_error ce = { 0 };
	int st = docker_call_json(docker_cfg.socket, "GET", url, NULL, INSPECT_TIMEOUT_MS, out, &ce);
	if (st == 200 && json_is_object(*out))
		return 0;
	json_decref(*out);
	*out = NULL;
	if (st == 404)
		return wr_error_set(e, ENOENT, "the engine has no container %.12s", id);
	return wr_error_set(e, EIO, "inspect container %.12s: %s", id, ce.message);
}

/* Whether the engine's answer `c` is the container sv recorded, of ours. */
static int same_container(const struct docker_saved *sv, const json_t *c, wr_error *e)
{
	const char *name = json_string_value(json_object_get(c, "Name"));
	json_t *labels = json_object_get(json_object_get(c, "Config"), "Labels");
	const char *state = json_string_value(json_object_get(labels, DOCKER_LABEL_STATE));
	if (name && *name == '/')
		name++; /* (the engine's own spelling) */
	/* (a crash may have come before the rename to the kept name) */
	if (!name || (strcmp(name, sv->name) && strcmp(name, sv->created_as)))
		return wr_error_set(e, ESRCH, "container %.12s is named %s, not %s", sv->id, name ? name : "(none)",
				    sv->name);
	if (!json_object_get(labels, "io.warren.daemon") || !state || strcmp(state, docker_cfg.state_dir))
		return wr_error_set(e, ESRCH, "container %s is not labelled %s=%s", sv->name, DOCKER_LABEL_STATE,
				    docker_cfg.state_dir);
	return 0;
}

int docker_saved_prove(const struct docker_saved *sv, char *image, size_t len, wr_error *e)
{
	json_t *c = NULL;
	int r = inspect(sv->id, &c, e);
	if (r < 0)
		return r == -ENOENT ? wr_error_set(e, ENOENT, "the engine has no container %s (%.12s)", sv->name,
						   sv->id) : r;
	json_t *state = json_object_get(c, "State");
	json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
	if ((r = same_container(sv, c, e)) == 0) {
		if (!json_is_true(json_object_get(state, "Running")))
			r = wr_error_set(e, ESRCH, "container %s is not running", sv->name);
		else if (pid != sv->init_pid)
			r = wr_error_set(e, ESRCH, "container %s's init is pid %lld, not the recorded %d", sv->name,
					 (long long)pid, sv->init_pid);
		else if (docker_proc_start_time((pid_t)pid) != (unsigned long long)sv->init_start)
			r = wr_error_set(e, ESRCH, "pid %d is another process now, not container %s's init", sv->init_pid,
					 sv->name);
	}
	snprintf(image, len, "%s", json_string_value(json_object_get(json_object_get(c, "Config"), "Image")) ?: "");
	json_decref(c);
	return r;
}

/* The host pid of an exec that still runs, by what its info file says
 * (or, when its child died before it learnt the pid, the engine), or 0. */
static pid_t left_exec_pid(const struct exec_info *in)
{
	if (in->pid > 0)
		return docker_proc_start_time(in->pid) == in->start ? in->pid : 0;
	if (!in->engine_id[0] || in->engine_id[strspn(in->engine_id, "0123456789abcdef")])
		return 0;
	char url[160];
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/exec/%s/json", in->engine_id);
	json_t *out = NULL;
	pid_t pid = 0;
	if (docker_call_json(docker_cfg.socket, "GET", url, NULL, INSPECT_TIMEOUT_MS, &out, NULL) == 200 &&
	    json_is_true(json_object_get(out, "Running")))
		pid = (pid_t)json_integer_value(json_object_get(out, "Pid"));
	json_decref(out);
	return pid > 1 ? pid : 0;
}

/* For each info file NAME.ID: fn(id, path), which returns true when the
 * file stays; the others go, with their markers. The names are read
 * first: fn may rename files in the directory. */
static void each_exec_file(const char *name, bool (*fn)(uint32_t id, const char *path, void *arg), void *arg)
{
	_cleanup_closedir_ DIR *dir = opendir(docker_cfg.state_dir);
	size_t len = strlen(name), n = 0;
	uint32_t ids[2 * INIT_MAX_RUNNING + 64];
	struct dirent *de;
	while (dir && (de = readdir(dir)) && n < ARRAY_SIZE(ids)) {
		const char *f = de->d_name, *digits = f + len + 1;
		if (strncmp(f, name, len) || f[len] != '.' || !*digits || digits[strspn(digits, "0123456789")])
			continue;
		unsigned long id = strtoul(digits, NULL, 10);
		if (id > 0 && id <= UINT32_MAX)
			ids[n++] = (uint32_t)id;
	}
	for (size_t i = 0; i < n; i++) {
		char path[1024], marker[1040];
		snprintf(path, sizeof path, "%s/%s.%u", docker_cfg.state_dir, name, ids[i]);
		if (fn && fn(ids[i], path, arg))
			continue;
		docker_stdin_marker(path, marker, sizeof marker);
		unlink(path);
		unlink(marker);
	}
}

struct settle {
	const char *name;          /* the container's, now */
	struct init_greeting *found;
	int *clients;
};

/* A kept command's client, proven, and room for it: its fds go into x,
 * its files are renamed after the container's name, and we are noted as
 * its taker (one whose command ended lingers with its output until then,
 * or until we saw the end: keep_waiter_linger). */
static bool take_client(const struct settle *st, int client, const char *path, struct init_greeting_exec *x)
{
	char marker[1040], to[1024], to_marker[1040];
	docker_stdin_marker(path, marker, sizeof marker);
	snprintf(to, sizeof to, "%s/%s.%u", docker_cfg.state_dir, st->name, x->id);
	docker_stdin_marker(to, to_marker, sizeof to_marker);
	if (strcmp(path, to) && rename(path, to) < 0)
		return false;
	_cleanup_close_ int info = open(to, O_WRONLY | O_APPEND | O_CLOEXEC);
	docker_info_append(info, "taken %d %llu\n", (int)getpid(), docker_proc_start_time(getpid()));
	bool stdin_closed = rename(marker, to_marker) == 0 || access(to_marker, F_OK) == 0;
	for (int i = 0; i < INIT_MAX_KEPT && !(i == 2 && stdin_closed); i++) {
		int got = (int)syscall(SYS_pidfd_getfd, client, KEPT_OUT + i, 0);
		if (got < 0)
			break; /* (no stdin, or its client dropped it) */
		x->fds[x->n_fds++] = got;
	}
	x->running = true;
	struct exec_info in;
	docker_info_read(to, &in);
	if (in.have_exit || in.failed_err)
		keep_release(client);
	return true;
}

static bool settle_one(uint32_t id, const char *path, void *arg)
{
	const struct settle *st = arg;
	struct init_greeting *found = st->found;
	struct exec_info in;
	docker_info_read(path, &in);
	if (id > found->last_id)
		found->last_id = id;
	if (found->n >= ARRAY_SIZE(found->execs))
		return false; /* (its end is lost: "not seen") */
	struct init_greeting_exec *x = &found->execs[found->n];
	*x = (struct init_greeting_exec){ .id = id, .fds = { -1, -1, -1 } };
	wr_error e = { 0 };
	if (in.client_pid > 0) {
		int client = keep_pidfd_of(in.client_pid, (long long)in.client_start, "docker client", &e);
		if (client >= 0 && take_client(st, client, path, x)) {
			st->clients[found->n++] = client;
			return true;
		}
		if (client >= 0) {
			wr_error_set(&e, errno, "its docker client's file %s could not be renamed", path);
			keep_kill(client);
			close(client);
		}
		docker_info_read(path, &in); /* (it may have ended between the two looks) */
	}
	pid_t pid = in.have_exit ? 0 : left_exec_pid(&in);
	if (pid > 0)
		for (int pass = 0; pass < 3; pass++) /* (what it forks meanwhile) */
			docker_kill_tree(pid);
	if (!pid && !in.have_exit)
		return false; /* gone unseen: the daemon says its end was not seen */
	st->clients[found->n++] = -1;
	if (!pid) {
		x->status = W_EXITCODE(in.exit_code & 0xff, 0);
		return false;
	}
	x->status = W_EXITCODE(0, SIGKILL);
	if (in.client_pid > 0)
		snprintf(x->error, sizeof x->error, "killed when warrend restarted: %s", e.message);
	else
		snprintf(x->error, sizeof x->error, "killed when warrend restarted: nothing kept it (a request's "
			 "command, or one a warrend before this one started)");
	return false;
}

void docker_settle_left_execs(const struct docker_saved *sv, const char *name, struct init_greeting *found,
			      int *clients)
{
	struct settle st = { .name = name, .found = found, .clients = clients };
	found->n = 0;
	each_exec_file(sv->name, settle_one, &st);
	if (strcmp(sv->created_as, sv->name))
		each_exec_file(sv->created_as, settle_one, &st);
}

void docker_end_client(const char *info_path)
{
	struct exec_info in;
	wr_error e = { 0 };
	docker_info_read(info_path, &in);
	_cleanup_close_ int client = in.client_pid > 0 ? keep_pidfd_of(in.client_pid, (long long)in.client_start,
								       "docker client", &e) : -1;
	struct pollfd p = { .fd = client, .events = POLLIN };
	if (client >= 0 && keep_kill(client) == 0)
		poll(&p, 1, INSPECT_TIMEOUT_MS);
}

static bool end_client(uint32_t id, const char *path, void *arg)
{
	(void)id, (void)arg;
	docker_end_client(path);
	return false;
}

int docker_rename(const char *id, const char *name, wr_error *e)
{
	char url[256];
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/%s/rename?name=%s", id, name);
	wr_error ce = { 0 };
	int st = docker_call_json(docker_cfg.socket, "POST", url, NULL, INSPECT_TIMEOUT_MS, NULL, &ce);
	if (st == 204 || st == 200)
		return 0;
	return wr_error_set(e, st == 404 ? ENOENT : EIO, "rename container %.12s to %s: %s", id, name, ce.message);
}

/* Not adopted: the container is removed when it is still the one
 * recorded (never another's that the record names by mistake or by
 * tampering: the stale sweep removes our own by name anyway). */
void docker_discard(const json_t *saved)
{
	struct docker_saved sv;
	wr_error e = { 0 };
	json_t *c = NULL;
	if (docker_saved_parse(saved, &sv, &e) < 0)
		return;
	each_exec_file(sv.name, end_client, NULL);
	each_exec_file(sv.created_as, end_client, NULL);
	if (inspect(sv.id, &c, &e) == 0 && same_container(&sv, c, &e) == 0 &&
	    docker_remove_by_id(sv.id, INSPECT_TIMEOUT_MS, &e) < 0)
		fprintf(stderr, "warrend: docker: %s\n", e.message);
	json_decref(c);
}
