/* warrend's spawner: a small process that clones sandboxes for the daemon,
 * off its event loop. warrend starts it before any client connects by
 * executing itself again (so it holds no copy of the daemon's heap, and a
 * restarted spawner none either), with one unix socket to the daemon and
 * nothing else open. Sandbox inits are clones of this small process, not
 * of the daemon: they start with a handful of fds and a small address
 * space, and the daemon's file table (3 fds per session) is never copied.
 *
 * The daemon holds the host uid ranges (one fd for all of them, userns.h)
 * and both ends of each init's socket: it sends the spawner a request
 * (the effective policy as JSON, the image, the cgroup name, the uid range)
 * with init's end attached (SCM_RIGHTS) and keeps its own. The spawner
 * creates the cgroup, copies the root's template (template.h), clones init
 * as the daemon's child (CLONE_PARENT: the daemon reaps it, and a spawner
 * that dies takes no sandbox with it), writes its id maps, and answers
 * (init's pid, the cgroup) before it lets init go, so the answer is always
 * in the daemon's socket before init's first message. A spawn that fails
 * is answered with the reason, which also reaches the sandbox's socket as
 * init's setup failure.
 *
 * A spawner that dies is noticed on the next request or answer (EOF, EPIPE)
 * or when an answer is 30 s late (then it is killed): the daemon logs it
 * and starts a new one; after 5 deaths within a minute it stops trying and
 * the native backend reports itself unhealthy with the reason (warrend(8)). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "spawn.h"

/* ---- in warrend ----------------------------------------------------------- */

/* Starts the spawner (and opens the daemon's uid pool). Its templates are
 * kept under state_dir/templates, in a mount namespace of its own. */
int spawner_start(const char *state_dir, int verbose, wr_error *e);
/* Closes its socket (it exits) and reaps it. */
void spawner_stop(void);
/* True when sandboxes are spawned through it (it was started). */
bool spawner_in_use(void);
/* 0, or why the spawner cannot be used (it kept dying). */
int spawner_health(wr_error *e);
/* The spawner's pid (0 when none runs): tests and /v1/health. */
pid_t spawner_pid(void);

/* Asks for a sandbox as o describes (o->argv must be NULL). s gets our end
 * of init's socket and the uid range now; pid and cgroup follow in
 * spawner_collect (s->remote_id is 0 from then on). */
int spawner_request(const struct spawn_options *o, struct spawned *s, wr_error *e);
/* A kept sandbox holds its uid range itself from now on: *fd holds its
 * lock (-1 when there is none to hand: rootless). */
int spawner_hand_over_ids(struct uid_range *r, int *fd, wr_error *e);
/* A restarted daemon takes an adopted sandbox's uid range again (want:
 * slot, host_base, count and handed as recorded). */
int spawner_take_ids(const struct uid_range *want, struct uid_range *out, wr_error *e);
/* Applies every answer that has arrived (never blocks). */
void spawner_collect(void);
/* s is being destroyed: forget it if its answer has not come. Returns 0,
 * or -EBUSY while the spawner is alive and may still clone it (unless
 * force: then a late answer is dropped, and an init it names is never
 * reaped). */
int spawner_forget(struct spawned *s, bool force);

/* ---- the spawner process ---------------------------------------------------- */

/* warrend's main calls this first: when argv asks for the spawner it runs
 * it and returns its exit status, else -1. */
int spawner_main_if_asked(int argc, char **argv);
