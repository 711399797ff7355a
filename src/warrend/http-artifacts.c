#include "config.h"

/* What every front end that collects files shares: each collected file
 * as clients see it (its URL, content type, expiry), and the download of
 * an artifact (GET /v1/artifacts/{id}/{name}, api/v1-artifacts.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "artifacts.h"
#include "daemon.h"
#include "http.h"

static h2o_mimemap_t *mimemap;

const char *http_content_type_of(const char *name)
{
	if (!mimemap)
		mimemap = h2o_mimemap_create();
	const char *dot = strrchr(name, '.');
	h2o_mimemap_type_t *t = dot && dot[1] ? h2o_mimemap_get_type_by_extension(mimemap, h2o_iovec_init(dot + 1, strlen(dot + 1)))
					     : NULL;
	if (!t || t->type != H2O_MIMEMAP_TYPE_MIMETYPE)
		t = h2o_mimemap_get_default_type(mimemap);
	return t->data.mimetype.base;
}

/* What artifact URLs start with: public_url, else the scheme and Host
 * the client used (its own view of where warrend is). */
static void base_url(h2o_req_t *req, char *out, size_t len)
{
	const char *pub = daemon_state->cfg.public_url;
	if (pub) {
		snprintf(out, len, "%s", pub);
		return;
	}
	h2o_iovec_t host = req->input.authority;
	snprintf(out, len, "%s://%.*s", req->input.scheme ? req->input.scheme->name.base : "http",
		 host.len && host.len < 256 ? (int)host.len : 9, host.len && host.len < 256 ? host.base : "localhost");
}

static void rfc3339(time_t t, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void http_render_collected(h2o_req_t *req, json_t *report)
{
	char base[300], path[ARTIFACT_PATH_MAX], url[sizeof base + ARTIFACT_PATH_MAX], when[32];
	base_url(req, base, sizeof base);
	json_t *entry;
	size_t i;
	json_array_foreach(json_object_get(report, "collected"), i, entry) {
		const char *name = json_string_value(json_object_get(entry, "name"));
		json_object_set_new(entry, "content_type", json_string(http_content_type_of(name ? name : "")));
		json_t *a = json_object_get(entry, "artifact");
		const char *id = json_string_value(json_object_get(a, "id"));
		const char *stored = json_string_value(json_object_get(a, "name"));
		time_t expires = (time_t)json_integer_value(json_object_get(a, "expires"));
		if (id && stored && artifacts_sign(id, stored, expires, path, sizeof path) == 0) {
			snprintf(url, sizeof url, "%s%s", base, path);
			rfc3339(expires, when, sizeof when);
			json_object_set_new(entry, "url", json_string(url));
			json_object_set_new(entry, "expires", json_string(when));
		}
		json_object_del(entry, "artifact");
	}
}
