/* Between init.c (setup, one command) and init-serve.c (persistent
 * mode: serving exec requests); nobody else. All of it runs as the
 * sandbox's pid 1: raw syscalls only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "init.h"

/* One init_event to the parent (false when it cannot be sent). */
bool init_send_event(int sock, int type, uint32_t exec_id, int err, int status, const char *step, const char *path);
/* INIT_EV_SETUP_FAILED to the parent, then exit. */
_Noreturn void init_setup_failed(const struct init_plan *p, int err, const char *step, const char *path);
/* Starts a command (vfork, see there): its pid, or -1 with errno. */
pid_t init_vfork_command(const struct init_plan *p, uint32_t exec_id, char *const *argv, char *const *envp,
			 const char *cwd, const int *fds, int n_fds, bool ctty);
/* After init_vfork_command: 0 when the command runs, 1 when it already
 * ended (its wait status in *status). */
int init_settle_command(pid_t pid, int *status);
/* Persistent mode: serves the parent's requests until it goes (or, once
 * kept, for the rest of the sandbox's life). */
_Noreturn void init_serve_requests(const struct init_plan *plan);
