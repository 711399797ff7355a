/* Between backend-docker.c (containers, commands), backend-docker-exec.c
 * (the exec client), backend-docker-files.c (file execs),
 * backend-docker-stale.c (removals, the sweep of dead daemons'
 * containers) and backend-docker-keep.c (restarts); nobody else.
 * Everything here blocks: it runs in the backend's children, off the
 * event loop (remove_stale: at start-up, before the daemon serves). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "backend.h"
#include "error.h"

#define CALL_TIMEOUT_MS 60000      /* create, start, inspect: a busy engine is slow, not dead */

struct docker_settings {
	char socket[108];
	char state_dir[512];       /* STATE_DIR/docker: exec info files, seccomp profiles */
	char prefix[64];
	char host_image[128];
	char cgroup_prefix[64];
	int verbose;
	pid_t daemon_pid;          /* who started the backend: its children tell the daemon's death */
};
extern struct docker_settings docker_cfg;

/* What an exec's child tells the parent through its info file
 * (STATE_DIR/docker/NAME.ID: one line per fact). */
struct exec_info {
	char engine_id[72];
	pid_t pid;
	unsigned long long start;
	pid_t client_pid;          /* a kept command's: its client, which outlives the daemon */
	unsigned long long client_start;
	bool have_exit;
	int exit_code;
	int failed_err;            /* could not start: ENOENT, EACCES, ENOTDIR, EIO */
	char message[1024];
};
void docker_info_read(const char *path, struct exec_info *in);
/* A line into the info file fd (-1: none); the client holds the file
 * open (O_APPEND: each line one write), so a restarted daemon may rename
 * it, and one removed meanwhile is never created again. */
void docker_info_append(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* keep_waiter_linger's taker: the last "taken PID START" in the info file
 * *(int *)info_fd, which a daemon appends once it took the client's fds. */
bool docker_info_taker(void *info_fd, pid_t *pid, unsigned long long *start);
/* A kept command's marker beside its info file: its stdin was closed
 * (keep-waiter.h). */
static inline void docker_stdin_marker(const char *info_path, char *buf, size_t len)
{
	snprintf(buf, len, "%s.stdin-closed", info_path);
}
/* pid's start time (/proc/PID/stat), 0 when it is gone. */
unsigned long long docker_proc_start_time(pid_t pid);
/* SIGKILLs pid and its descendants (by ppid in /proc). */
void docker_kill_tree(pid_t root);

/* A JSON array of the strings of v (NULL-terminated). */
json_t *docker_strv_json(char *const *v);
/* Runs argv in the container as the sandbox user with the caller's stdio
 * (fd 0 copied to the command, its stdout and stderr to fds 1 and 2);
 * returns its exit code, or -errno when it could not start (message in
 * e). info_fd, when not -1, collects what the parent needs. */
int docker_engine_exec(const char *container, char *const *argv, char *const *envp, const char *cwd,
		       int info_fd, wr_error *e);
/* A file exec (backend.h's BACKEND_FILE_*): its exit status is the errno. */
int docker_file_exec(const char *container, const struct backend_exec *x);

/* backend-docker-stale.c: removals by id (a DELETE by name can meet a
 * create in flight; see there) and the sweep of dead daemons' containers.
 * Each returns 0 when the container is gone (404 included), or -errno. */
int docker_remove_by_id(const char *id, unsigned timeout_ms, wr_error *e);
/* By the id the engine's inspect of NAME gives: 0 also when it has none. */
int docker_remove_by_name(const char *name, unsigned timeout_ms, wr_error *e);
/* backend_ops.remove_stale; what it is given is kept for docker_sweep. */
unsigned docker_remove_stale(const char *prefix, bool (*keep)(const char *name));
/* In a health check's child (nothing at start-up): removes what daemons
 * that died since left; e gets a warning when the engine cannot list its
 * containers, or what was repaired so it could. */
void docker_sweep(wr_error *e);

/* backend-docker-keep.c: what a restarted daemon needs of a kept
 * container (warrend(8) RESTARTS), and the proof that the engine's
 * container is still that one. */
struct docker_saved {
	const char *name;          /* its kept name (the record's strings) */
	const char *created_as;    /* its name until the rename to it is through */
	const char *id;
	int init_pid;
	json_int_t init_start;
};
/* The label with the state directory of the daemon whose container it is. */
#define DOCKER_LABEL_STATE "io.warren.state"
json_t *docker_saved_json(const char *name, const char *created_as, const char *id, pid_t init_pid,
			  unsigned long long init_start);
int docker_saved_parse(const json_t *saved, struct docker_saved *sv, wr_error *e);
/* 0 when the engine's container sv->id is named sv->name (or still
 * sv->created_as), carries our labels, runs, and its init is the recorded
 * pid with its start time (image: its engine image); else -errno with
 * why not. */
int docker_saved_prove(const struct docker_saved *sv, char *image, size_t len, wr_error *e);
/* Renames container id (by id: never a name, backend-docker-stale.c). */
int docker_rename(const char *id, const char *name, wr_error *e);
/* What the previous daemon's execs in the container left (their info
 * files, under either name), each reported in *found with the highest
 * exec id seen: a kept command whose client is proven alive runs on (its
 * fds in found, its client's pidfd in clients[i] for found->execs[i],
 * its files renamed after `name`, the container's name now); what else
 * still runs is killed; the other files go. */
void docker_settle_left_execs(const struct docker_saved *sv, const char *name, struct init_greeting *found,
			      int *clients);
/* The client of a kept command whose info file is info_path, proven by
 * its pid and start time, is killed and waited for: its container is
 * being removed (none outlives it, nor writes on, nor lingers). */
void docker_end_client(const char *info_path);
void docker_discard(const json_t *saved);
