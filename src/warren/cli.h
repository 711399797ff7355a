/* The warren command's subcommands; each returns the process exit status. */
#pragma once

extern const char *program_name;

int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* "warren: " + message on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
