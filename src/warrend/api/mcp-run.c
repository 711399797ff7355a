/* run_command and run_code: one exec each in the call's sandbox, bound
 * to the call (a client that leaves kills it), its output kept up to
 * MCP_OUTPUT_MAX and returned as UTF-8 text (bytes that are not become
 * U+FFFD: a model reads text).
 *
 * run_code runs Python and JavaScript under a small driver that reads
 * the program from stdin (no argv size limit), runs it like a notebook
 * cell (a final expression's value is the result) and reports the result
 * or the uncaught exception after the program's own stderr, on a last
 * line that starts with a random mark: "\n<mark>{json}\n". The daemon
 * takes that line off; the program never sees the mark (the driver drops
 * it from the environment first), and a program that forges such a line
 * only misleads its own caller. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cleanup.h"
#include "encode.h"
#include "mcp.h"

enum language { LANG_PYTHON, LANG_JAVASCRIPT, LANG_BASH };

static const char python_driver[] =
	"import ast, json, linecache, os, sys, traceback\n"
	"def main():\n"
	"    mark = os.environ.pop(\"WARREN_RUN_CODE_MARK\", \"\")\n"
	"    src = sys.stdin.buffer.read().decode(\"utf-8\", \"replace\")\n"
	"    sys.stdin = open(os.devnull)\n"
	"    linecache.cache[\"<code>\"] = (len(src), None, src.splitlines(True), \"<code>\")\n"
	"    out, status = {}, 0\n"
	"    scope = {\"__name__\": \"__main__\", \"__builtins__\": __builtins__}\n"
	"    try:\n"
	"        tree = ast.parse(src, \"<code>\")\n"
	"        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None\n"
	"        exec(compile(tree, \"<code>\", \"exec\"), scope)\n"
	"        if last is not None:\n"
	"            value = eval(compile(ast.Expression(last.value), \"<code>\", \"eval\"), scope)\n"
	"            if value is not None:\n"
	"                out[\"result\"] = repr(value)\n"
	"    except SystemExit:\n"
	"        raise\n"
	"    except BaseException as e:\n"
	"        tb = None if isinstance(e, SyntaxError) else e.__traceback__.tb_next\n"
	"        traceback.print_exception(type(e), e, tb)\n"
	"        out[\"error\"] = traceback.format_exception_only(type(e), e)[-1].strip()\n"
	"        status = 1\n"
	"    sys.stdout.flush()\n"
	"    sys.stderr.write(\"\\n\" + mark + json.dumps(out) + \"\\n\")\n"
	"    sys.stderr.flush()\n"
	"    sys.exit(status)\n"
	"main()\n";

static const char javascript_driver[] =
	"const fs = require('fs'), vm = require('vm'), util = require('util');\n"
	"const mark = process.env.WARREN_RUN_CODE_MARK || '';\n"
	"delete process.env.WARREN_RUN_CODE_MARK;\n"
	"const out = {};\n"
	"process.on('exit', () => fs.writeSync(2, '\\n' + mark + JSON.stringify(out) + '\\n'));\n"
	"const failed = (e) => {\n"
	"  const stack = e instanceof Error && e.stack ? e.stack.split('\\n') : ['Uncaught ' + util.inspect(e)];\n"
	"  const keep = stack.filter((line) => !/^\\s+at /.test(line) || line.includes(\"code.js\"));\n"
	"  console.error(keep.join(\"\\n\"));\n"
	"  out.error = e instanceof Error ? e.name + ': ' + e.message : 'Uncaught ' + util.inspect(e);\n"
	"  process.exitCode = 1;\n"
	"};\n"
	"try {\n"
	"  const value = vm.runInThisContext(fs.readFileSync(0, 'utf8'), { filename: 'code.js' });\n"
	"  if (value && typeof value.then === 'function')\n"
	"    value.then((v) => { if (v !== undefined) out.result = util.inspect(v); }, failed);\n"
	"  else if (value !== undefined)\n"
	"    out.result = util.inspect(value);\n"
	"} catch (e) {\n"
	"  failed(e);\n"
	"}\n";

/* bash takes the program as one argument: the kernel's limit on one. */
#define BASH_CODE_MAX (128 * 1024 - 1)

/* ---- one exec for the call ---------------------------------------------------- */

struct run_spec {
	char *const *argv, *const *env;
	const char *cwd;
	const void *in;
	size_t in_len;
};

/* Starts spec in s; on_done ends the call. */
static void run_start(struct mcp_call *c, struct session *s, const struct run_spec *spec,
		      void (*on_done)(struct exec_observer *o, struct exec_result *r))
{
	struct session_info info;
	session_info(s, &info);
	json_t *timeout = json_object_get(c->args, "timeout_s");
	uint64_t timeout_s = timeout ? (uint64_t)json_integer_value(timeout) : 0;
	struct exec_request er = {
		.argv = spec->argv, .env = spec->env, .cwd = spec->cwd, .stdin_data = spec->in, .stdin_len = spec->in_len,
		/* above the session's limit, the core says which it is */
		.timeout_ms = timeout_s > UINT64_MAX / 1000 ? UINT64_MAX : timeout_s * 1000,
		.output_cap = info.limits->output < MCP_OUTPUT_MAX ? info.limits->output : MCP_OUTPUT_MAX,
		.keep_output = true, .request_id = c->request_id,
	};
	struct wd_error err = { 0 };
	c->obs = (struct exec_observer){ .on_done = on_done };
	if (!(c->x = session_exec(s, &er, &c->obs, &err)))
		mcp_call_fail_wd(c, NULL, &err);
}

/* "exit code 3", "killed by signal 9", "timed out" …: how it ended. */
static void describe_end(const struct exec_result *r, char *buf, size_t len)
{
	if (r->timed_out)
		snprintf(buf, len, "timed out (killed at its time limit)");
	else if (r->oom_killed)
		snprintf(buf, len, "killed: out of memory (the sandbox's memory limit)");
	else if (!r->exited)
		snprintf(buf, len, "killed by signal %d", r->signal);
	else
		snprintf(buf, len, "exit code %d", r->exit_code);
}

/* An exec's outputs as UTF-8, and its text rendering being written. */
struct rendering {
	char *out, *err, *text;
	size_t out_len, err_len, len;
	FILE *f;
};

static void rendering_free(struct rendering *x)
{
	if (x->f)
		fclose(x->f);
	free(x->out);
	free(x->err);
	free(x->text);
}

static void write_section(FILE *f, const char *heading, const char *text, size_t len)
{
	if (!len)
		return;
	fputs(heading, f);
	fwrite(text, 1, len, f);
	if (text[len - 1] != '\n')
		fputc('\n', f);
}

/* The outputs as text, ready for the rendering (stdout, then stderr under
 * a heading, as a model reads them): false after ending c, when the
 * command never ran. */
static bool rendering_start(struct mcp_call *c, const struct exec_result *r, const char *tool,
			    struct rendering *x)
{
	c->x = NULL;
	if (r->failed_to_start) {
		mcp_call_fail(c, "%s: the program could not start: %s", tool, r->exec_error);
		return false;
	}
	x->out = utf8_lossy(r->out[0] ? r->out[0] : "", r->out_len[0], &x->out_len);
	x->err = utf8_lossy(r->out[1] ? r->out[1] : "", r->out_len[1], &x->err_len);
	if (!x->out || !x->err || !(x->f = open_memstream(&x->text, &x->len))) {
		mcp_call_fail(c, "%s: out of memory", tool);
		return false;
	}
	return true;
}

/* Ends the rendering and the call with its structured result. */
static void rendering_finish(struct mcp_call *c, struct rendering *x, json_t *result)
{
	fclose(x->f);
	x->f = NULL;
	mcp_call_result(c, result, x->text, x->len);
}

/* ---- run_command ------------------------------------------------------------- */

static void command_done(struct exec_observer *o, struct exec_result *r)
{
	struct mcp_call *c = LIST_ENTRY(struct mcp_call, obs, o);
	_cleanup_(rendering_free) struct rendering x = { 0 };
	if (!rendering_start(c, r, "run_command", &x))
		return;
	char end[128];
	describe_end(r, end, sizeof end);
	write_section(x.f, "", x.out, x.out_len);
	write_section(x.f, "--- stderr ---\n", x.err, x.err_len);
	fprintf(x.f, "--- %s%s ---\n", end, r->truncated ? "; output truncated" : "");
	rendering_finish(c, &x, json_pack("{s:o, s:o, s:s%, s:s%, s:b, s:b, s:b, s:I}",
					  "exit_code", r->exited ? json_integer(r->exit_code) : json_null(),
					  "signal", !r->exited && r->signal ? json_integer(r->signal) : json_null(),
					  "stdout", x.out, x.out_len, "stderr", x.err, x.err_len,
					  "timed_out", r->timed_out, "oom_killed", r->oom_killed,
					  "truncated", r->truncated, "duration_ms", (json_int_t)r->duration_ms));
}

void mcp_tool_run_command(struct mcp_call *c, struct session *s)
{
	const char *cwd = mcp_arg_string(c, "cwd");
	_cleanup_free_ char *abs_cwd = NULL;
	if (cwd && cwd[0] != '/' && asprintf(&abs_cwd, "/workspace/%s", cwd) < 0)
		abs_cwd = NULL;
	_cleanup_strv_ char **env = NULL;
	if ((cwd && cwd[0] != '/' && !abs_cwd) || !mcp_arg_env(c, "env", &env)) {
		mcp_call_fail(c, "run_command: out of memory");
		return;
	}
	char *const argv[] = { "/bin/sh", "-c", (char *)mcp_arg_string(c, "command"), NULL };
	struct run_spec spec = { .argv = argv, .env = env, .cwd = abs_cwd ? abs_cwd : cwd };
	run_start(c, s, &spec, command_done);
}

/* ---- run_code ---------------------------------------------------------------- */

/* Takes the driver's last line off stderr and reads it: "\n<mark>{…}\n". */
static json_t *take_report(const struct mcp_call *c, char *err, size_t *err_len)
{
	size_t mark_len = strlen(c->mark);
	if (!mark_len || *err_len < mark_len + 3 || err[*err_len - 1] != '\n')
		return NULL;
	for (size_t at = *err_len - mark_len - 2;; at--) {
		if (err[at] == '\n' && !memcmp(err + at + 1, c->mark, mark_len)) {
			const char *doc = err + at + 1 + mark_len;
			json_t *report = json_loadb(doc, (size_t)(err + *err_len - 1 - doc), 0, NULL);
			if (!json_is_object(report)) {
				json_decref(report);
				return NULL;
			}
			*err_len = at;
			err[at] = '\0';
			return report;
		}
		if (at == 0)
			return NULL;
	}
}

static void code_done(struct exec_observer *o, struct exec_result *r)
{
	struct mcp_call *c = LIST_ENTRY(struct mcp_call, obs, o);
	_cleanup_(rendering_free) struct rendering x = { 0 };
	if (!rendering_start(c, r, "run_code", &x))
		return;
	_cleanup_(json_decrefp) json_t *report = take_report(c, x.err, &x.err_len);
	const char *value = json_string_value(json_object_get(report, "result"));
	const char *error = json_string_value(json_object_get(report, "error"));
	char end[128] = "";
	if (r->timed_out || r->oom_killed || !r->exited || r->exit_code != 0)
		describe_end(r, end, sizeof end);
	if (!error || r->timed_out)
		error = end[0] ? end : NULL;
	write_section(x.f, "", x.out, x.out_len);
	write_section(x.f, "--- stderr ---\n", x.err, x.err_len);
	if (value)
		fprintf(x.f, "--- result ---\n%s\n", value);
	if (error)
		fprintf(x.f, "--- error: %s ---\n", error);
	if (r->truncated)
		fputs("--- output truncated ---\n", x.f);
	json_t *result = json_pack("{s:s%, s:s%, s:o, s:b, s:b}", "stdout", x.out, x.out_len, "stderr", x.err,
				   x.err_len, "exit_code", r->exited ? json_integer(r->exit_code) : json_null(),
				   "timed_out", r->timed_out, "truncated", r->truncated);
	if (result && value)
		json_object_set_new(result, "result", json_string(value));
	if (result && error)
		json_object_set_new(result, "error", json_string(error));
	rendering_finish(c, &x, result);
}

void mcp_tool_run_code(struct mcp_call *c, struct session *s)
{
	static const char *const names[] = { [LANG_PYTHON] = "python", [LANG_JAVASCRIPT] = "javascript",
					     [LANG_BASH] = "bash" };
	const char *lang = mcp_arg_string(c, "language"), *code = mcp_arg_string(c, "code");
	c->language = LANG_PYTHON;
	for (int i = 0; lang && i <= LANG_BASH; i++)
		if (!strcmp(lang, names[i]))
			c->language = i;
	unsigned char raw[16];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		abort(); /* no entropy: nothing safe to hand out */
	int n = snprintf(c->mark, sizeof c->mark, "warren-run-code-");
	for (int i = 0; i < 16; i++)
		n += snprintf(c->mark + n, sizeof c->mark - (size_t)n, "%02x", raw[i]);
	snprintf(c->mark + n, sizeof c->mark - (size_t)n, ":");

	char mark_env[sizeof c->mark + 32];
	snprintf(mark_env, sizeof mark_env, "WARREN_RUN_CODE_MARK=%s", c->mark);
	char *const env[] = { mark_env, NULL };
	if (c->language == LANG_BASH) {
		if (strlen(code) > BASH_CODE_MAX) {
			mcp_call_fail(c, "run_code: bash code is limited to %d bytes (one argument): write it to a file "
				      "with write_file and run it with run_command", BASH_CODE_MAX);
			return;
		}
		c->mark[0] = '\0'; /* no driver: nothing to take off */
		char *const argv[] = { "bash", "-c", (char *)code, NULL };
		run_start(c, s, &(struct run_spec){ .argv = argv }, code_done);
		return;
	}
	char *const python[] = { "python3", "-c", (char *)python_driver, NULL };
	char *const node[] = { "node", "-e", (char *)javascript_driver, NULL };
	struct run_spec spec = { .argv = c->language == LANG_PYTHON ? python : node, .env = env,
				 .in = code, .in_len = strlen(code) };
	run_start(c, s, &spec, code_done);
}
