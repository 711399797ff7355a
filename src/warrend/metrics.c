#include "config.h"

/* Prometheus metrics: counters, histograms (exec wall time, and request
 * latency per route), gauges read from the core at render time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "box.h"
#include "cleanup.h"
#include "metrics.h"
#include "session.h"

/* Exec durations from 1 ms to 60 s: interactive commands sit at the low
 * end, the default 30 s timeout and longer jobs at the top. */
static const double exec_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				       0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
/* Request latency: most answers take well under a millisecond; an exec's
 * request lasts as long as its command. */
static const double request_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define MAX_ROUTES 64

struct histogram {
	uint64_t bucket[ARRAY_SIZE(request_buckets)];
	uint64_t count;
	double sum;
};

struct route_stats {
	char name[128];
	struct histogram latency;
	uint64_t errors;        /* answers of 400 and above */
};

static struct {
	uint64_t exec_total, exec_timeouts, exec_oom_kills;
	uint64_t exec_bucket[ARRAY_SIZE(exec_buckets)];
	double exec_seconds_sum;
	uint64_t http_by_status[600];
	struct route_stats routes[MAX_ROUTES];
	size_t n_routes;
} counters;

static void exec_finished(const struct exec_result *r)
{
	double seconds = (double)r->duration_ms / 1000.0;
	counters.exec_total++;
	counters.exec_timeouts += r->timed_out;
	counters.exec_oom_kills += r->oom_killed;
	counters.exec_seconds_sum += seconds;
	for (size_t i = 0; i < ARRAY_SIZE(exec_buckets); i++)
		if (seconds <= exec_buckets[i])
			counters.exec_bucket[i]++;
}

void metrics_init(void)
{
	execs_on_finish(exec_finished);
}

static struct route_stats *route_of(const char *name)
{
	for (size_t i = 0; i < counters.n_routes; i++)
		if (!strcmp(counters.routes[i].name, name))
			return &counters.routes[i];
	if (counters.n_routes == MAX_ROUTES)
		return NULL;
	struct route_stats *r = &counters.routes[counters.n_routes++];
	snprintf(r->name, sizeof r->name, "%s", name);
	return r;
}

void metrics_count_request(const char *route, int status, double seconds)
{
	if (status >= 100 && status < (int)ARRAY_SIZE(counters.http_by_status))
		counters.http_by_status[status]++;
	struct route_stats *r = route_of(route);
	if (!r)
		return;
	if (seconds < 0)
		seconds = 0;
	r->errors += status >= 400;
	r->latency.count++;
	r->latency.sum += seconds;
	for (size_t i = 0; i < ARRAY_SIZE(request_buckets); i++)
		if (seconds <= request_buckets[i])
			r->latency.bucket[i]++;
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

struct pool_gauge {
	FILE *out;
	const char *name;       /* "warren_pool_ready" */
	size_t offset;          /* of the figure in struct pool_stats */
};

static void pool_line(const struct pool_stats *st, void *data)
{
	const struct pool_gauge *g = data;
	fprintf(g->out, "%s{backend=", g->name);
	label_value(g->out, st->backend);
	fputs(",image=", g->out);
	label_value(g->out, st->image);
	fputs(",policy=", g->out);
	label_value(g->out, st->policy);
	fputs(",network=", g->out);
	label_value(g->out, st->network);
	fprintf(g->out, "} %u\n", *(const unsigned *)((const char *)st + g->offset));
}

static void render_pools(FILE *out)
{
	static const struct { const char *name, *help; size_t offset; } gauges[] = {
		{ "warren_pool_ready", "Idle pre-forked sandboxes ready to lease, per pool.",
		  offsetof(struct pool_stats, ready) },
		{ "warren_pool_starting", "Sandboxes being created, per pool.", offsetof(struct pool_stats, starting) },
		{ "warren_pool_target", "Target number of idle sandboxes, per pool.", offsetof(struct pool_stats, target) },
		{ "warren_pool_leased", "Sandboxes leased to sessions and runs, per pool.",
		  offsetof(struct pool_stats, leased) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(gauges); i++) {
		header(out, gauges[i].name, "gauge", gauges[i].help);
		struct pool_gauge g = { out, gauges[i].name, gauges[i].offset };
		pools_foreach(pool_line, &g);
	}
}

static void render_routes(FILE *out)
{
	header(out, "warren_http_request_duration_seconds", "histogram", "Wall time of each request, per route.");
	for (size_t i = 0; i < counters.n_routes; i++) {
		const struct route_stats *r = &counters.routes[i];
		for (size_t b = 0; b < ARRAY_SIZE(request_buckets); b++) {
			fputs("warren_http_request_duration_seconds_bucket{route=", out);
			label_value(out, r->name);
			fprintf(out, ",le=\"%g\"} %llu\n", request_buckets[b], (unsigned long long)r->latency.bucket[b]);
		}
		fputs("warren_http_request_duration_seconds_bucket{route=", out);
		label_value(out, r->name);
		fprintf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)r->latency.count);
		fputs("warren_http_request_duration_seconds_sum{route=", out);
		label_value(out, r->name);
		fprintf(out, "} %.6f\n", r->latency.sum);
		fputs("warren_http_request_duration_seconds_count{route=", out);
		label_value(out, r->name);
		fprintf(out, "} %llu\n", (unsigned long long)r->latency.count);
	}
	header(out, "warren_http_errors_total", "counter", "Answers with a status of 400 or above, per route.");
	for (size_t i = 0; i < counters.n_routes; i++) {
		fputs("warren_http_errors_total{route=", out);
		label_value(out, counters.routes[i].name);
		fprintf(out, "} %llu\n", (unsigned long long)counters.routes[i].errors);
	}
}

/* ---- egress, per session ---------------------------------------------------- */

/* The sessions' figures, read once per scrape (one nftables listing). */
struct net_rows {
	struct session_net_stats *v;
	size_t n, cap;
};

static void net_collect(const struct session_net_stats *st, void *data)
{
	struct net_rows *rows = data;
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 16;
		struct session_net_stats *v = realloc(rows->v, cap * sizeof *v);
		if (!v)
			return;
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = *st; /* session_id stays valid: nothing ends while we render */
}

static void render_egress(FILE *out)
{
	static const struct { const char *name, *type, *help, *extra; size_t offset; } metrics[] = {
		{ "warren_egress_bytes_total", "counter", "Bytes of allowed egress traffic, per session and direction.",
		  ",direction=\"out\"", offsetof(struct session_net_stats, out_bytes) },
		{ NULL, NULL, NULL, ",direction=\"in\"", offsetof(struct session_net_stats, in_bytes) },
		{ "warren_egress_connections_total", "counter", "Egress connections allowed, per session.", "",
		  offsetof(struct session_net_stats, connections) },
		{ "warren_egress_denied_packets_total", "counter", "Egress packets refused or dropped, per session "
		  "(a refused connection is one: its first packet, answered at once).", "",
		  offsetof(struct session_net_stats, denied_packets) },
		{ "warren_egress_denied_bytes_total", "counter", "Bytes of the egress packets refused or dropped, per "
		  "session.", "", offsetof(struct session_net_stats, denied_bytes) },
		{ "warren_egress_dns_queries_total", "counter", "DNS queries an egress sandbox asked, per session.", "",
		  offsetof(struct session_net_stats, dns_queries) },
		{ "warren_egress_dns_denied_total", "counter", "DNS names refused (not in the allowlist), per session.",
		  "", offsetof(struct session_net_stats, dns_denied) },
	};
	struct net_rows rows = { 0 };
	sessions_net_foreach(net_collect, &rows);
	for (size_t i = 0; i < ARRAY_SIZE(metrics); i++) {
		const char *name = metrics[i].name ? metrics[i].name : metrics[i - 1].name;
		if (metrics[i].name)
			header(out, name, metrics[i].type, metrics[i].help);
		for (size_t k = 0; k < rows.n; k++) {
			fprintf(out, "%s{session=", name);
			label_value(out, rows.v[k].session_id);
			fprintf(out, "%s} %llu\n", metrics[i].extra,
				(unsigned long long)*(const uint64_t *)((const char *)&rows.v[k] + metrics[i].offset));
		}
	}
	free(rows.v);
	counter(out, "warren_dns_denied_names_total", "DNS names refused to egress sandboxes since start.",
		sessions_dns_denied_total());
}

void metrics_render(FILE *out)
{
	uint64_t hits, misses;
	pools_lease_counts(&hits, &misses);
	header(out, "warren_sessions_active", "gauge", "Sessions currently alive.");
	fprintf(out, "warren_sessions_active %u\n", sessions_active());
	header(out, "warren_runs_active", "gauge", "One-shot runs (POST /v1/run) holding or awaiting a sandbox.");
	fprintf(out, "warren_runs_active %u\n", runs_active());
	counter(out, "warren_sessions_created_total", "Sessions created since start.", sessions_created_total());
	render_pools(out);
	counter(out, "warren_pool_hits_total", "Sandboxes leased from a warm pool.", hits);
	counter(out, "warren_pool_misses_total", "Sandboxes created cold because the pool was empty.", misses);
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

	struct artifacts_stats art;
	artifacts_get_stats(&art);
	header(out, "warren_artifacts", "gauge", "Artifacts stored now (collected files served by signed URL).");
	fprintf(out, "warren_artifacts %llu\n", (unsigned long long)art.stored);
	header(out, "warren_artifacts_bytes", "gauge", "Bytes of the artifacts stored now.");
	fprintf(out, "warren_artifacts_bytes %llu\n", (unsigned long long)art.bytes);
	counter(out, "warren_artifacts_stored_total", "Artifacts stored since start.", art.stored_total);
	counter(out, "warren_artifacts_expired_total", "Artifacts removed at their expiry since start.",
		art.expired_total);

	header(out, "warren_http_requests_total", "counter", "HTTP responses by status code.");
	for (size_t s = 0; s < ARRAY_SIZE(counters.http_by_status); s++)
		if (counters.http_by_status[s])
			fprintf(out, "warren_http_requests_total{code=\"%zu\"} %llu\n", s,
				(unsigned long long)counters.http_by_status[s]);
	render_routes(out);
	render_egress(out);
}
