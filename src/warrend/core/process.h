/* Processes of a session: commands that outlive the request that started
 * them. Each has a pid (its number in the session, from 1), keeps its
 * output in a bounded buffer of numbered events (output-ring.h) for any
 * number of followers, who come and go, fall behind and resume from an
 * event id; it takes stdin (or keys, with a terminal), signals and
 * resizes. It ends when it exits, is signalled, reaches its timeout or
 * its session ends, never because a follower left; an ended process stays
 * (its status and output) until its session ends or a newer process needs
 * its place.
 *
 * Caps: a running process is a command, counted against
 * max_execs_per_session and the token's max_execs like any other (it
 * holds two or three of the daemon's fds); max_processes_per_session caps
 * those kept, running or ended; each keeps at most process_buffer bytes
 * of output (and the session's limits.output, when lower) and
 * EXEC_STDIN_QUEUE_MAX of input; max_process_followers clients follow one
 * at once. No HTTP in here: every front end (v1, E2B's process service)
 * is an adapter over these calls. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "box.h"
#include "list.h"
#include "session.h"
#include "wd-error.h"

struct process;

#define PROCESS_TAG_MAX 256

struct process_request {
	char *const *argv;          /* NULL-terminated; copied */
	char *const *env;           /* "KEY=VALUE" over the session's; copied */
	const char *cwd;            /* NULL: /workspace */
	bool cwd_anywhere;          /* as exec_request's */
	const char *tag;            /* the client's name for it (NULL: none); copied */
	bool stdin;                 /* stdin stays open for process_write (else /dev/null) */
	bool pty;                   /* a terminal: one output stream, keys through process_write */
	uint16_t cols, rows;        /* its size; 0: the kernel's default */
	uint64_t timeout_ms;        /* 0: the session's limit; above it: 400 */
	bool no_timeout;            /* as exec_request's */
	const char *request_id;     /* the request that starts it, for the log */
};

/* Admits (the caps above: 429; an ended process without followers makes
 * room first) and starts a process. NULL with err set: 400 for a bad
 * request, 409 a dead session, 429 past a cap, 501 a terminal the
 * backend cannot give. */
struct process *process_start(struct session *s, const struct process_request *r, struct wd_error *err);
/* 404 when the session has no process `pid`. */
struct process *process_find(struct session *s, uint32_t pid, struct wd_error *err);
/* The newest process tagged `tag` (E2B selects by tag); 404 when none. */
struct process *process_find_tag(struct session *s, const char *tag, struct wd_error *err);
uint32_t process_pid(const struct process *p);
/* Every process of s, oldest first. */
void processes_foreach(struct session *s, void (*fn)(struct process *p, void *data), void *data);

struct process_info {
	uint32_t pid;
	char *const *argv, *const *env; /* as requested (env: the request's only) */
	const char *cwd, *tag;      /* tag NULL when none */
	bool running, pty, stdin_open;
	uint16_t cols, rows;
	time_t started;             /* wall clock */
	uint64_t timeout_ms;
	const struct exec_result *result; /* once it ended, else NULL */
	uint64_t first_event, last_event; /* the ids kept (first > last: none) */
	uint64_t dropped_events, dropped_bytes;
	unsigned followers;
};
void process_info(const struct process *p, struct process_info *out);

/* Its stdin, or keys typed into its terminal: 409 when it has none open
 * (ended, closed, started without), 429 while the command does not read
 * what waits. */
int process_write(struct process *p, const void *buf, size_t len, struct wd_error *err);
int process_close_stdin(struct process *p, struct wd_error *err);
/* sig in 1..64 (signal-name.h parses names); see exec_signal. */
int process_signal(struct process *p, int sig, struct wd_error *err);
int process_resize(struct process *p, uint16_t cols, uint16_t rows, struct wd_error *err);

/* ---- following its output ------------------------------------------------- */

enum process_event_kind {
	PROCESS_EV_OUTPUT,          /* stream 0 stdout, 1 stderr, 2 the terminal */
	PROCESS_EV_DROPPED,         /* `dropped` events the buffer no longer holds were skipped */
	PROCESS_EV_EXIT,            /* the last: result */
};

struct process_event {
	enum process_event_kind kind;
	uint64_t id;                /* DROPPED: the id of the last event skipped */
	int stream;
	const char *data;           /* OUTPUT: valid until the process is next called or runs */
	size_t len;
	uint64_t dropped;
	const struct exec_result *result;
};

struct process_follower {
	/* Events past its cursor are there (or the process ended): pull them
	 * with process_next, now or later. Called from the process's own
	 * callbacks: it may unfollow, nothing more drastic. */
	void (*wake)(struct process_follower *f);
	/* The process is being freed (its session ended): pull what is left
	 * now if wanted; afterwards it is unfollowed and must not be used. */
	void (*gone)(struct process_follower *f);
	/* set by the calls below */
	struct process *process;
	uint64_t cursor;            /* the id of the last event it got */
	struct list link;
};

/* Events after `after` come (0: everything still kept;
 * PROCESS_FROM_NOW: only what comes next). 429 past
 * max_process_followers. wake is not called for what is there already:
 * pull it. */
#define PROCESS_FROM_NOW UINT64_MAX
int process_follow(struct process *p, struct process_follower *f, uint64_t after, struct wd_error *err);
void process_unfollow(struct process_follower *f);
/* 1 with the next event, 0 when none is there yet, -1 after the exit
 * event (nothing more will come). */
int process_next(struct process_follower *f, struct process_event *ev);

/* The session's processes, freed with it (sessions.c). */
void processes_release(struct session *s);
