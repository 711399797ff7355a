/* Between backend-docker.c (containers, commands) and
 * backend-docker-files.c (file execs); nobody else. Everything here runs
 * in the backend's children, off the event loop. */
#pragma once
#include <stddef.h>

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
};
extern struct docker_settings docker_cfg;

/* Runs argv in the container as the sandbox user with the caller's stdio
 * (fd 0 copied to the command, its stdout and stderr to fds 1 and 2);
 * returns its exit code, or -errno when it could not start (message in
 * e). info_path, when not NULL, collects what the parent needs. */
int docker_engine_exec(const char *container, char *const *argv, char *const *envp, const char *cwd,
		       const char *info_path, wr_error *e);
/* A file exec (backend.h's BACKEND_FILE_*): its exit status is the errno. */
int docker_file_exec(const char *container, const struct backend_exec *x);
