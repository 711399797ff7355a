/* Counters and histograms behind GET /metrics. Gauges (active sessions,
 * pool sizes) are read from the core when rendered. Event-loop thread
 * only: nothing is locked. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

/* Hooks into the core's exec ends (once, at start-up). */
void metrics_init(void);
/* One answered request: its route ("GET /v1/sessions/{id}", "other",
 * "gate"), status and wall time. */
void metrics_count_request(const char *route, int status, double seconds);

/* The Prometheus text exposition format (version 0.0.4). */
void metrics_render(FILE *out);
