/* Signals as requests name them: "SIGINT", "INT" (any case) or a number.
 * Pure (tests/unit/test-output-ring.c). */
#pragma once

/* 0 with *sig in 1..64, or -EINVAL for a name or number that is no
 * signal (0 included: it signals nothing). */
int signal_parse(const char *text, int *sig);
/* "SIGINT" for 2; NULL for a number without a name (real-time signals). */
const char *signal_name(int sig);
