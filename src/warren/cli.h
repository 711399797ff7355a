/* The warren command's subcommands; each returns the process exit status. */
#pragma once

extern const char *program_name;

int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* "warren: " + message on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A -e/--env argument: "KEY=VALUE", or "KEY" alone for our own value of
 * KEY (as docker does). 1 with *key (malloc'd) and *value (in arg or our
 * environment), 0 when KEY alone is not in our environment (then it is
 * dropped), -1 after saying what is wrong. */
int cli_env_arg(const char *flag, const char *arg, char **key, const char **value);
