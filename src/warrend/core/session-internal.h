/* Between the session core's files (sessions.c, session-exec.c,
 * workspace.c; artifacts.c for the per-token byte counts); nobody else. */
#pragma once
#include <stdint.h>
#include <jansson.h>

#include "list.h"
#include "session.h"

struct owner;

struct session {
	char id[33];
	enum session_kind kind;
	struct owner *owner;
	struct box *box;
	struct pool *pool;
	struct policy_limits limits;     /* effective: the policy's, tightened */
	char **env;                      /* "KEY=VALUE": the policy's and the session's */
	time_t created;
	uint64_t created_ms, last_used_ms;
	uint64_t idle_timeout_ms, max_lifetime_ms;
	bool pooled;                     /* leased from the pool (not a cold create) */
	bool dead, ending;
	bool record_dirty;               /* last_used changed since its record was written */
	char dead_reason[256];
	unsigned running;                /* execs in flight */
	struct list processes;           /* process.c's, oldest first */
	unsigned n_processes;
	uint32_t next_pid;
	char request_id[65];             /* of the request that created it */
	struct session_net *net;         /* its network (session-net.c) */
	json_t *notes;                   /* the front ends' own facts, by front end (session_set_note) */
	struct session *hash_next;       /* in the table's bucket (SESSION_KEPT) */
	struct list link;                /* in `sessions` (kept) or `runs` (one-shot) */
};

/* A token's sandboxes, commands and artifact bytes, counted for its caps. */
struct owner {
	char name[65];
	unsigned held;                   /* sessions, creations and runs holding or awaiting a sandbox */
	unsigned execs;                  /* commands running in all its sessions */
	uint64_t artifacts_used;         /* bytes of its stored artifacts (artifacts.c) */
	uint64_t artifacts_reserved;     /* bytes granted to uploads still being written */
	struct owner *next;
};

/* session-net.c: the session's network. */
struct session_net;
struct pool;
/* Checks what r asks for against the pool's policy and gives the pool
 * whose sandboxes have that mode (*pool changes when it is lower than the
 * policy's); s->net holds the session's allowlist until attach. */
int session_net_prepare(struct session *s, const struct network_request *r, struct pool **pool, struct wd_error *err);
/* The session holds its box now: an allowlist narrower than the pool's
 * is applied, and its DNS forwarder starts on the loop. On failure the
 * caller destroys the box (the sandbox would allow too much). */
int session_net_attach(struct session *s, struct wd_error *err);
/* The box is gone (died or deleted): its forwarder stops. */
void session_net_detach(struct session *s);
void session_net_free(struct session *s);
/* From the daemon's tick: DNS queries that waited too long. */
void session_nets_tick(uint64_t now_ms);
/* Its record (session-record.c) gets the egress session's own allowlist. */
void session_net_save(const struct session *s, json_t *record);
/* What a record asks of a session's network when it is taken back:
 * `texts` (borrowed from the record) is the caller's to free; -errno with
 * why when the network cannot be taken back. */
int session_net_request_of(json_t *record, struct network_request *r, char ***texts, char *why, size_t len);

/* sessions.c: the owner of that name (created); NULL on no memory. */
struct owner *owner_get(const char *name);
/* sessions.c: a session a restarted daemon took back holds b, in the
 * table and on the counts from now on, its network served again; when
 * that fails the box is destroyed (-errno, err says why). */
int session_adopted(struct session *s, struct box *b, struct wd_error *err);

/* session-record.c: records under STATE/sessions (warrend(8) RESTARTS). */
int session_records_open(const char *state_dir, struct wd_error *err);
/* Written now (creation, processes, limits): atomically. */
void session_record_write(struct session *s);
void session_record_remove(const struct session *s);
/* From the tick: those whose last_used moved, every few seconds (or all
 * of them, now). */
void session_records_flush(struct list *sessions, bool now);
/* At start: takes back every session the records describe that can be
 * proven alive and ours; the rest is destroyed, logging why. Returns how
 * many were taken back. */
unsigned session_records_restore(void);

/* session-record.c: "KEY=VALUE" and argv lists in records, and back
 * (NULL: no memory, or an element that is not a string). */
json_t *strv_json(char *const *v);
char **strv_from_json(const json_t *a);

/* process.c: a session's processes in its record, and back. */
json_t *processes_save(const struct session *s);
struct init_greeting;
void processes_restore(struct session *s, json_t *saved, struct init_greeting *g);

/* session-exec.c: a file operation run as an exec in s. */
struct exec *session_file_exec(struct session *s, const struct exec_params *p, struct exec_observer *first,
			       struct wd_error *err);
/* session-exec.c: how many commands `owner` may run at once. */
unsigned exec_cap_for_owner(const char *owner);
