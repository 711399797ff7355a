#include "config.h"

/* Prometheus metrics: plain counters, one histogram, gauges read at render time. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "metrics.h"
#include "sessions.h"
#include "warrend.h"

/* Exec durations from 1 ms to 60 s: interactive commands sit at the low
 * end, the default 30 s timeout and longer jobs at the top. */
static const double exec_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				       0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

static struct {
	uint64_t sessions_created, pool_hits, pool_misses;
	uint64_t exec_total, exec_timeouts, exec_oom_kills;
	uint64_t exec_bucket[ARRAY_SIZE(exec_buckets)];
	double exec_seconds_sum;
	uint64_t http_by_status[600];
} counters;

void metrics_session_created(void) { counters.sessions_created++; }
void metrics_pool_hit(void) { counters.pool_hits++; }
void metrics_pool_miss(void) { counters.pool_misses++; }

void metrics_exec_done(double seconds, bool timed_out, bool oom)
{
	if (seconds < 0)
		seconds = 0;
	counters.exec_total++;
	counters.exec_timeouts += timed_out;
	counters.exec_oom_kills += oom;
	counters.exec_seconds_sum += seconds;
	for (size_t i = 0; i < ARRAY_SIZE(exec_buckets); i++)
		if (seconds <= exec_buckets[i])
			counters.exec_bucket[i]++;
}

void metrics_count_http(int status)
{
	if (status >= 100 && status < (int)ARRAY_SIZE(counters.http_by_status))
		counters.http_by_status[status]++;
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *out, const char *name, const char *help, uint64_t value)
{
	header(out, name, "counter", help);
	fprintf(out, "%s %llu\n", name, (unsigned long long)value);
}

/* Label values escape backslash, double quote and newline. */
static void label_value(FILE *out, const char *v)
{
	fputc('"', out);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

static void render_pools(FILE *out)
{
	json_t *pools = json_array();
	if (!pools)
		return;
	pools_describe(pools);
	header(out, "warren_pool_ready", "gauge", "Idle pre-forked sandboxes ready to lease, per pool.");
	size_t i;
	json_t *p;
	json_array_foreach(pools, i, p) {
		fputs("warren_pool_ready{image=", out);
		label_value(out, json_string_value(json_object_get(p, "image")));
		fputs(",policy=", out);
		label_value(out, json_string_value(json_object_get(p, "policy")));
		fprintf(out, "} %lld\n", (long long)json_integer_value(json_object_get(p, "ready")));
	}
	header(out, "warren_pool_target", "gauge", "Target number of idle sandboxes, per pool.");
	json_array_foreach(pools, i, p) {
		fputs("warren_pool_target{image=", out);
		label_value(out, json_string_value(json_object_get(p, "image")));
		fputs(",policy=", out);
		label_value(out, json_string_value(json_object_get(p, "policy")));
		fprintf(out, "} %lld\n", (long long)json_integer_value(json_object_get(p, "target")));
	}
	json_decref(pools);
}

void metrics_render(FILE *out)
{
	header(out, "warren_sessions_active", "gauge", "Sessions currently alive.");
	fprintf(out, "warren_sessions_active %u\n", sessions_active());
	header(out, "warren_runs_active", "gauge", "One-shot runs (POST /v1/run) holding or awaiting a sandbox.");
	fprintf(out, "warren_runs_active %u\n", runs_active());
	counter(out, "warren_sessions_created_total", "Sessions created since start.", counters.sessions_created);
	render_pools(out);
	counter(out, "warren_pool_hits_total", "Sandboxes leased from a warm pool.", counters.pool_hits);
	counter(out, "warren_pool_misses_total", "Sandboxes created cold because the pool was empty.",
		counters.pool_misses);
	counter(out, "warren_exec_total", "Commands run in sandboxes.", counters.exec_total);

	header(out, "warren_exec_duration_seconds", "histogram", "Wall time of each exec.");
	for (size_t i = 0; i < ARRAY_SIZE(exec_buckets); i++)
		fprintf(out, "warren_exec_duration_seconds_bucket{le=\"%g\"} %llu\n", exec_buckets[i],
			(unsigned long long)counters.exec_bucket[i]);
	fprintf(out, "warren_exec_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)counters.exec_total);
	fprintf(out, "warren_exec_duration_seconds_sum %.6f\n", counters.exec_seconds_sum);
	fprintf(out, "warren_exec_duration_seconds_count %llu\n", (unsigned long long)counters.exec_total);

	counter(out, "warren_exec_timeouts_total", "Execs killed by their timeout.", counters.exec_timeouts);
	counter(out, "warren_exec_oom_kills_total", "Execs during which the kernel OOM-killed a process.",
		counters.exec_oom_kills);

	header(out, "warren_http_requests_total", "counter", "HTTP responses by status code.");
	for (size_t s = 0; s < ARRAY_SIZE(counters.http_by_status); s++)
		if (counters.http_by_status[s])
			fprintf(out, "warren_http_requests_total{code=\"%zu\"} %llu\n", s,
				(unsigned long long)counters.http_by_status[s]);
}
