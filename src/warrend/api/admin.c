#include "config.h"

/* Health, metrics and the API description: routes that need no session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "box.h"
#include "cleanup.h"
#include "http.h"
#include "metrics.h"
#include "routes.h"
#include "session.h"

extern const char warrend_openapi_json[]; /* generated from src/warrend/openapi.json */

static void pool_json(const struct pool_stats *st, void *array)
{
	json_array_append_new(array, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s?}",
		"backend", st->backend, "image", st->image, "policy", st->policy, "network", st->network,
		"ready", (json_int_t)st->ready,
		"starting", (json_int_t)st->starting, "target", (json_int_t)st->target,
		"hits", (json_int_t)st->hits, "misses", (json_int_t)st->misses, "last_error", st->last_error));
}

static void count_ready(const struct pool_stats *st, void *total)
{
	*(unsigned *)total += st->ready;
}

static void backend_json(const struct backend_health *h, void *object)
{
	json_t *b = json_pack("{s:b, s:b}", "healthy", h->healthy, "default", h->is_default);
	if (b && h->error)
		json_object_set_new(b, "error", json_string(h->error));
	else if (b && h->warning)
		json_object_set_new(b, "warning", json_string(h->warning));
	json_object_set_new(object, h->name, b);
}

static int get_health(h2o_req_t *req, const struct http_route_match *m)
{
	json_t *pools = json_array(), *backends = json_object();
	pools_foreach(pool_json, pools);
	backends_foreach(backend_json, backends);
	uint64_t uptime_s = (daemon_now_ms() - daemon_state->started_ms) / 1000;
	return http_reply_json(req, 200, json_pack("{s:s,s:s,s:I,s:i,s:i,s:o,s:s,s:s,s:o}",
						   "status", daemon_state->draining ? "draining" : "ok",
						   "version", PACKAGE_VERSION,
						   "uptime_s", (json_int_t)uptime_s,
						   "sessions", (int)sessions_active(),
						   "runs_active", (int)runs_active(),
						   "pools", pools,
						   "cgroup", daemon_state->cgroup_mode ? daemon_state->cgroup_mode : "none",
						   "backend", backend_kind_name((enum backend_kind)daemon_state->backend),
						   "backends", backends));
}

/* GET /health in the shape of the Flask/Docker services. */
static int get_compat_health(h2o_req_t *req, const struct http_route_match *m)
{
	unsigned ready = 0;
	pools_foreach(count_ready, &ready);
	return http_reply_json(req, 200, json_pack("{s:s,s:i,s:i,s:s}",
						   "status", daemon_state->draining ? "draining" : "healthy",
						   "pool_size", (int)ready,
						   "active_sessions", (int)sessions_active(),
						   "version", PACKAGE_VERSION));
}

static int get_metrics(h2o_req_t *req, const struct http_route_match *m)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	metrics_render(out);
	if (fclose(out) != 0)
		return http_reply_error(req, 500, "internal", "out of memory");
	return http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* The document is parsed once so its version always matches the daemon's. */
static int get_openapi(h2o_req_t *req, const struct http_route_match *m)
{
	static char *document;
	if (!document) {
		json_error_t error;
		json_t *doc = json_loads(warrend_openapi_json, 0, &error);
		if (!doc)
			return http_reply_error(req, 500, "internal", "built-in openapi.json: %s at line %d",
						error.text, error.line);
		json_object_set_new(json_object_get(doc, "info"), "version", json_string(PACKAGE_VERSION));
		document = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (!document)
			return http_reply_error(req, 500, "internal", "out of memory");
	}
	return http_reply_bytes(req, 200, "application/json", document, strlen(document));
}

const struct http_route admin_routes[] = {
	{ "GET", "/v1/health", get_health, 0 },
	{ "GET", "/metrics", get_metrics, 0 },
	{ "GET", "/v1/openapi.json", get_openapi, 0 },
	{ "GET", "/health", get_compat_health, 0 },
	{ NULL, NULL, NULL, 0 },
};
