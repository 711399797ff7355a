#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "cleanup.h"
#include "sandbox.h"

const char *program_name = "warren";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_env_arg(const char *flag, const char *arg, char **key, const char **value)
{
	const char *eq = strchr(arg, '=');
	if (eq == arg || !arg[0]) {
		cli_error("%s: expected KEY=VALUE or KEY, got '%s'", flag, arg);
		return -1;
	}
	*key = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);
	if (!*key) {
		cli_error("%s: out of memory", flag);
		return -1;
	}
	/* KEY alone: ours, as docker does; a KEY we do not have is dropped */
	*value = eq ? eq + 1 : getenv(*key);
	return *value ? 1 : 0;
}

static void usage(FILE *out)
{
	fputs("Usage: warren COMMAND [OPTION...]\n"
	      "\n"
	      "Run commands in isolated Linux sandboxes.\n"
	      "\n"
	      "Commands:\n"
	      "  run [OPTION...] -- CMD [ARG...]   run CMD in a new one-shot sandbox (-it: with a terminal)\n"
	      "  policy check FILE                 validate a policy, print the effective policy\n"
	      "\n"
	      "Commands that talk to warrend:\n"
	      "  create [OPTION...]                create a session, print its ID\n"
	      "  exec [OPTION...] ID [--] CMD [ARG...]  run CMD in a session (or: ID --shell STRING;\n"
	      "                                    -it: with a terminal, -d: in the background)\n"
	      "  ps ID                             list a session's processes\n"
	      "  attach ID PID                     follow a process, its stdin and terminal\n"
	      "  kill [-s SIGNAL] ID PID...        signal processes\n"
	      "  cp SRC DST                        copy a file to (ID:PATH) or from a session\n"
	      "  ls [ID[:PATH]]                    list sessions, or a session's workspace\n"
	      "  rm ID...                          delete sessions\n"
	      "  status                            show warrend's health and pools\n"
	      "  mcp                               serve MCP on stdin/stdout for an agent (tools from warrend)\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help      show this help (also: warren COMMAND --help)\n"
	      "  -V, --version   show the version\n"
	      "  --url URL       where warrend listens: unix:/PATH or http://HOST:PORT\n"
	      "                  (default $WARREN_URL, else " WARREN_DEFAULT_URL ")\n"
	      "  --token TOKEN   API token (default $WARREN_TOKEN)\n"
	      "\n"
	      "See warren(1) and warren-policy(5).\n", out);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} client_commands[] = {
	{ "create", cmd_create }, { "exec", cmd_exec }, { "cp", cmd_cp },
	{ "ls", cmd_ls },         { "rm", cmd_rm },     { "status", cmd_status },
	{ "mcp", cmd_mcp },
	{ "ps", cmd_ps },         { "kill", cmd_kill }, { "attach", cmd_attach },
};

int main(int argc, char **argv)
{
	/* --url and --token may come before the subcommand */
	int skip = client_leading_options(argc, argv);
	if (skip < 0)
		return WARREN_EXIT_SETUP;
	argc -= skip;
	argv += skip;
	if (argc < 2) {
		usage(stderr);
		return WARREN_EXIT_SETUP;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("warren %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(client_commands); i++)
		if (!strcmp(cmd, client_commands[i].name))
			return client_commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%s' (try 'warren --help')", cmd);
	return WARREN_EXIT_SETUP;
}
