/* The workspace tools: read_file, write_file, list_dir, make_dir and
 * remove, each one operation of the core's workspace interface
 * (workspace.h), whatever the sandbox's backend. Paths are the users'
 * own ("a/b", "/workspace/a/b"): the core normalizes them and refuses
 * those that leave the workspace. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"
#include "mcp.h"

/* ---- results ------------------------------------------------------------------ */

/* A regular file's bytes from the fd the workspace opened: small (at most
 * MCP_READ_MAX), so read at once. A file that shrank meanwhile is read as
 * it is now. */
static char *read_fd(int fd, uint64_t size, size_t *len)
{
	char *buf = malloc(size + 1);
	size_t got = 0;
	while (buf && got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return buf;
}

static void file_read(struct mcp_call *c, struct workspace_result *res)
{
	size_t len = res->len;
	_cleanup_free_ char *bytes = res->fd >= 0 ? read_fd(res->fd, res->size, &len) : TAKE_PTR(res->bytes);
	_cleanup_free_ char *b64 = NULL, *text = NULL;
	_cleanup_(json_decrefp) json_t *path = mcp_workspace_path(res->rel);
	if (!bytes && len) {
		mcp_call_fail(c, "read_file: out of memory");
		return;
	}
	bool utf8 = !c->want_base64 && utf8_valid(bytes ? bytes : "", len);
	if (c->want_utf8 && !utf8) {
		mcp_call_fail(c, "read_file: %s is not UTF-8 text (%zu bytes): read it with encoding base64",
			      json_string_value(path), len);
		return;
	}
	int text_len = 0;
	if (!utf8 && (!(b64 = base64_encode(bytes ? bytes : "", len)) ||
		      (text_len = asprintf(&text, "[%zu bytes of %s, base64]\n%s", len, json_string_value(path), b64)) < 0)) {
		text = NULL; /* asprintf leaves it undefined */
		mcp_call_fail(c, "read_file: out of memory");
		return;
	}
	json_t *result = json_pack("{s:O, s:s%, s:s, s:I}", "path", path, "content", utf8 ? bytes : b64,
				   utf8 ? len : strlen(b64), "encoding", utf8 ? "utf8" : "base64", "size", (json_int_t)len);
	mcp_call_result(c, result, utf8 ? bytes : text, utf8 ? len : (size_t)text_len);
}

static void file_listed(struct mcp_call *c, struct workspace_result *res)
{
	_cleanup_(json_decrefp) json_t *path = mcp_workspace_path(res->rel);
	json_t *entries = json_array();
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f || !entries || !path) {
		if (f)
			fclose(f);
		json_decref(entries);
		mcp_call_fail(c, "list_dir: out of memory");
		return;
	}
	fprintf(f, "%s:\n", json_string_value(path));
	for (size_t i = 0; i < res->listing.n; i++) {
		const struct files_entry *en = &res->listing.entries[i];
		char when[32];
		size_t name_len;
		_cleanup_free_ char *name = utf8_lossy(en->name, strlen(en->name), &name_len);
		mcp_iso_time(en->mtime.tv_sec, when, sizeof when);
		if (!name)
			continue;
		json_array_append_new(entries, json_pack("{s:s%, s:s, s:I, s:s}", "name", name, name_len, "type",
							 files_type_name(en->type), "size", (json_int_t)en->size,
							 "modified_at", when));
		fprintf(f, "%-9s %10llu  %s  %s%s\n", files_type_name(en->type), (unsigned long long)en->size, when,
			name, en->type == FILES_DIR ? "/" : "");
	}
	if (!res->listing.n)
		fputs("(empty)\n", f);
	if (res->listing.truncated)
		fputs("(more entries than listed: truncated)\n", f);
	fclose(f);
	mcp_call_result(c, json_pack("{s:O, s:o, s:b}", "path", path, "entries", entries, "truncated",
				     res->listing.truncated), text, len);
}

static void file_done(void *data, struct workspace_result *res, const struct wd_error *err)
{
	struct mcp_call *c = data;
	static const char *const tool[] = { [WS_PUT] = "write_file", [WS_GET] = "read_file", [WS_LIST] = "list_dir",
					    [WS_DELETE] = "remove", [WS_MKDIR] = "make_dir" };
	c->ws = NULL;
	if (err) {
		mcp_call_fail(c, "%s: %s%s", tool[c->op], err->cause.message, err->status != 413 ? "" : c->op != WS_GET ?
			      " (max_file_size)" : ": read a part of it with run_command (head, tail, sed -n)");
		return;
	}
	if (c->op == WS_GET && res->op == WS_LIST) {
		mcp_call_fail(c, "read_file: /workspace%s%s is a directory: list it with list_dir",
			      res->rel[0] ? "/" : "", res->rel);
		return;
	}
	if (c->op == WS_GET) {
		file_read(c, res);
		return;
	}
	if (c->op == WS_LIST) {
		file_listed(c, res);
		return;
	}
	_cleanup_(json_decrefp) json_t *path = mcp_workspace_path(res->rel);
	char text[FILES_PATH_MAX + 64];
	json_t *result;
	int n;
	if (c->op == WS_PUT) {
		n = snprintf(text, sizeof text, "Wrote %zu bytes to %s.", res->written, json_string_value(path));
		result = json_pack("{s:O, s:I}", "path", path, "size", (json_int_t)res->written);
	} else if (c->op == WS_MKDIR) {
		n = snprintf(text, sizeof text, "Made directory %s.", json_string_value(path));
		result = json_pack("{s:O}", "path", path);
	} else {
		n = snprintf(text, sizeof text, "Removed %s.", json_string_value(path));
		result = json_pack("{s:O, s:b}", "path", path, "removed", 1);
	}
	mcp_call_result(c, result, text, n < (int)sizeof text ? (size_t)n : sizeof text - 1);
}

/* ---- the operations -------------------------------------------------------------- */

static void file_op(struct mcp_call *c, struct session *s, enum workspace_op op, const void *data, size_t len,
		    uint64_t max_size)
{
	const char *path = mcp_arg_string(c, "path");
	c->op = op;
	struct workspace_request r = { .op = op, .path = path ? path : "", .path_len = path ? strlen(path) : 0,
				       .data = data, .len = len, .max_size = max_size, .request_id = c->request_id };
	struct wd_error err = { 0 };
	/* file_done may run (and end c) before this returns */
	if (workspace_start(s, &r, file_done, c, &c->ws, &err) < 0)
		file_done(c, NULL, &err);
}

void mcp_tool_read_file(struct mcp_call *c, struct session *s)
{
	const char *encoding = mcp_arg_string(c, "encoding");
	uint64_t max = daemon_state->cfg.max_file_size < MCP_READ_MAX ? daemon_state->cfg.max_file_size : MCP_READ_MAX;
	c->want_base64 = encoding && !strcmp(encoding, "base64");
	c->want_utf8 = encoding && !strcmp(encoding, "utf8");
	file_op(c, s, WS_GET, NULL, 0, max);
}

void mcp_tool_write_file(struct mcp_call *c, struct session *s)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	json_t *content = json_object_get(c->args, "content");
	const char *encoding = mcp_arg_string(c, "encoding");
	_cleanup_free_ void *decoded = NULL;
	size_t len = json_string_length(content);
	if (encoding && !strcmp(encoding, "base64") &&
	    !(decoded = base64_decode(json_string_value(content), json_string_length(content), &len))) {
		mcp_call_fail(c, "write_file: content: not valid base64 (RFC 4648, padded)");
		return;
	}
	/* the content is copied by the time workspace_start returns */
	file_op(c, s, WS_PUT, decoded ? decoded : json_string_value(content), len,
		cfg->max_body < cfg->max_file_size ? cfg->max_body : cfg->max_file_size);
}

void mcp_tool_list_dir(struct mcp_call *c, struct session *s)
{
	file_op(c, s, WS_LIST, NULL, 0, 0);
}

void mcp_tool_make_dir(struct mcp_call *c, struct session *s)
{
	file_op(c, s, WS_MKDIR, NULL, 0, 0);
}

void mcp_tool_remove(struct mcp_call *c, struct session *s)
{
	file_op(c, s, WS_DELETE, NULL, 0, 0);
}
