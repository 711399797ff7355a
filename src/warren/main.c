#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
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

static void usage(FILE *out)
{
	fputs("Usage: warren COMMAND [OPTION...]\n"
	      "\n"
	      "Run commands in isolated Linux sandboxes.\n"
	      "\n"
	      "Commands:\n"
	      "  run [OPTION...] -- CMD [ARG...]   run CMD in a new one-shot sandbox\n"
	      "  policy check FILE                 validate a policy, print the effective policy\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help      show this help (also: warren COMMAND --help)\n"
	      "  -V, --version   show the version\n"
	      "\n"
	      "See warren(1) and warren-policy(5).\n", out);
}

int main(int argc, char **argv)
{
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
	cli_error("unknown command '%s' (try 'warren --help')", cmd);
	return WARREN_EXIT_SETUP;
}
