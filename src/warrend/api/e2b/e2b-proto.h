/* envd's messages (process.proto, filesystem.proto) in proto3's JSON
 * mapping: requests read into C structs, replies and events built. No
 * h2o, no sessions: unit tested (tests/unit/test-e2b-proto.c). Readers
 * return 0, or -EINVAL with a message naming the field (invalid_argument),
 * or -ENOMEM. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct exec_result;
struct sbfs_entry;

/* ProcessSelector: {"pid": N} or {"tag": "…"}. */
struct e2b_selector {
	uint32_t pid;               /* 0: by tag */
	const char *tag;            /* borrowed from the message */
};
/* The request's "process" field as a selector (Connect, SendInput, …). */
int e2b_read_selector(const json_t *req, struct e2b_selector *out, char *msg, size_t len);

struct e2b_start {
	char **argv;                /* cmd, then args (NULL-terminated, owned) */
	char **env;                 /* "KEY=VALUE" (NULL-terminated, owned) */
	const char *cwd;            /* NULL: the home (borrowed) */
	const char *tag;            /* borrowed */
	bool pty;
	uint32_t cols, rows;
	bool stdin_open;            /* "stdin" true, or absent (envd keeps it open then) */
};
int e2b_read_start(const json_t *req, struct e2b_start *out, char *msg, size_t len);
void e2b_start_free(struct e2b_start *s);

/* SendInput's "input": {"stdin": base64} or {"pty": base64}; *data owned. */
int e2b_read_input(const json_t *req, uint8_t **data, size_t *n, bool *pty, char *msg, size_t len);
/* SendSignal's "signal": SIGNAL_SIGTERM (15), SIGNAL_SIGKILL (9), or a number. */
int e2b_read_signal(const json_t *req, int *sig, char *msg, size_t len);
/* Update's "pty.size": false in *has when there is none. */
int e2b_read_pty_size(const json_t *req, bool *has, uint32_t *cols, uint32_t *rows, char *msg, size_t len);

/* ProcessEvent messages, each wrapped as {"event": …}. stream 0 stdout,
 * 1 stderr, 2 pty. */
json_t *e2b_event_start(uint32_t pid);
json_t *e2b_event_data(int stream, const void *buf, size_t len);
json_t *e2b_event_end(const struct exec_result *r);
json_t *e2b_event_keepalive(void);
/* ProcessInfo {config: {cmd, args, envs, cwd}, pid, tag}. */
json_t *e2b_process_info(uint32_t pid, char *const *argv, char *const *env, const char *cwd, const char *tag);

/* EntryInfo of a sandbox file. */
json_t *e2b_entry(const struct sbfs_entry *e);
/* FilesystemEvent {name, type, entry?}; type is enum sbfs_event_type. */
json_t *e2b_fs_event(const char *name, int type, const struct sbfs_entry *e);
