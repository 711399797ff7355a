/* A session's workspace files, whatever the backend: one interface that
 * each backend's sandboxes implement (workspace.c): through the
 * workspace's fd on the host (native, oci: files.c, writes charged to the
 * sandbox by workspace-job.c), or as file execs inside the sandbox
 * (docker: its archive API). No front end branches on the backend. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "wd-error.h"

struct session;
struct workspace_wait;

enum workspace_op { WS_PUT, WS_GET, WS_LIST, WS_DELETE, WS_MKDIR /* with its parents; one there is success */ };

struct workspace_request {
	enum workspace_op op;
	const char *path;           /* as the client sent it (normalized here: 400 when it leaves the workspace) */
	size_t path_len;
	const void *data;           /* PUT: the content (read during the call) */
	size_t len;
	uint64_t max_size;          /* PUT, GET: the largest file (413 above) */
	const char *request_id;
};

struct workspace_result {
	enum workspace_op op;       /* WS_LIST when a GET found a directory */
	const char *rel;            /* the normalized path ("" is /workspace itself) */
	size_t written;             /* PUT */
	int fd;                     /* GET: a regular file to send, taken by the caller (-1: bytes) */
	uint64_t size;              /* its size when opened */
	char *bytes;                /* GET through an exec: the file, taken by the caller (may set NULL) */
	size_t len;
	struct files_listing listing; /* LIST */
};

/* The result (res) or the failure (err). Never called once cancelled. */
typedef void (*workspace_done_fn)(void *data, struct workspace_result *res, const struct wd_error *err);

/* Starts an operation on s's workspace. Refused or failed at once:
 * -errno with err set (done is not called). Otherwise 0: done has been
 * called already (*wait = NULL) or will be (*wait cancels it). */
int workspace_start(struct session *s, const struct workspace_request *r, workspace_done_fn done, void *data,
		    struct workspace_wait **wait, struct wd_error *err);
void workspace_cancel(struct workspace_wait *w);
