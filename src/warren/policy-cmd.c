/* warren policy check FILE|NAME: validate a policy and print it as warren
 * will apply it, defaults filled in. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "sandbox.h"

static void policy_usage(FILE *out)
{
	fputs("Usage: warren policy check FILE|NAME\n"
	      "\n"
	      "Validate a policy and print the effective policy (every default filled in)\n"
	      "as JSON. FILE is a path (it contains '/' or ends in .json); NAME is looked up\n"
	      "as NAME.json in $WARREN_POLICY_DIR, then in " WARREN_POLICYDIR ";\n"
	      "\"default\" falls back to the built-in policy.\n"
	      "\n"
	      "Exit status: 0 valid, 1 invalid (one line on stderr names the JSON path),\n"
	      "125 usage error.\n"
	      "\n"
	      "See warren-policy(5).\n", out);
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static int policy_check(int argc, char **argv)
{
	/* argv[0] is "check" */
	if (argc == 2 && is_help(argv[1])) {
		policy_usage(stdout);
		return 0;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0')) {
		if (argc == 2)
			cli_error("policy check: unknown option '%s' (try 'warren policy check --help')", argv[1]);
		else
			cli_error("policy check: expected one FILE or NAME (try 'warren policy check --help')");
		return WARREN_EXIT_SETUP;
	}

	_cleanup_policy_ struct policy *p = NULL;
	wr_error e = { 0 };
	if (policy_load(argv[1], &p, &e) < 0) {
		cli_error("%s", e.message);
		return 1;
	}
	json_t *j = policy_to_json(p);
	if (!j) {
		cli_error("policy check: out of memory");
		return WARREN_EXIT_SETUP;
	}
	int r = json_dumpf(j, stdout, JSON_INDENT(2));
	json_decref(j);
	if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		cli_error("policy check: writing to stdout failed");
		return WARREN_EXIT_SETUP;
	}
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	/* argv[0] is "policy" */
	if (argc < 2) {
		policy_usage(stderr);
		return WARREN_EXIT_SETUP;
	}
	if (is_help(argv[1])) {
		policy_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	cli_error("policy: unknown subcommand '%s' (try 'warren policy --help')", argv[1]);
	return WARREN_EXIT_SETUP;
}
