/* Counters and the exec-duration histogram behind GET /metrics. Gauges
 * (active sessions, pool sizes) are read when rendered. Event-loop thread
 * only: nothing is locked. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

void metrics_session_created(void);
void metrics_pool_hit(void);
void metrics_pool_miss(void);
/* One finished exec: its wall time, and whether it timed out or was OOM-killed. */
void metrics_exec_done(double seconds, bool timed_out, bool oom);
/* Every HTTP response, by status (called by the HTTP core for all routes). */
void metrics_count_http(int status);

/* The Prometheus text exposition format (version 0.0.4). */
void metrics_render(FILE *out);
