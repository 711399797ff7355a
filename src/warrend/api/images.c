#include "config.h"

/* GET /v1/images: the images sessions may name, "host" first, each with
 * what its warren-rootfs manifest says (size, build time, packages, digest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "http.h"
#include "image.h"
#include "routes.h"

/* One image's entry; fields come from <dir>/NAME/image.json when present
 * (a hand-made image directory has none and is listed by name only). */
static json_t *describe_image(const char *dir, const char *name)
{
	_cleanup_free_ char *manifest_path = NULL;
	json_t *entry = json_pack("{s:s,s:b}", "name", name, "builtin", 0);
	if (!entry || asprintf(&manifest_path, "%s/%s/image.json", dir, name) < 0)
		return entry;
	json_t *m = json_load_file(manifest_path, 0, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		return entry;
	}
	static const char *const copied[] = { "description", "size", "built", "digest", "suite", NULL };
	for (const char *const *key = copied; *key; key++) {
		json_t *v = json_object_get(m, *key);
		if (v)
			json_object_set(entry, *key, v);
	}
	json_t *packages = json_object_get(m, "packages");
	if (json_is_object(packages))
		json_object_set_new(entry, "packages", json_integer((json_int_t)json_object_size(packages)));
	json_decref(m);
	return entry;
}

static int get_images(h2o_req_t *req, const struct http_route_match *m)
{
	const char *dir = daemon_state->cfg.image_dir;
	_cleanup_strv_ char **names = image_names(dir);
	json_t *list = json_array();
	if (!names || !list) {
		json_decref(list);
		return http_reply_error(req, 500, "internal", "out of memory");
	}
	json_array_append_new(list, json_pack("{s:s,s:b,s:s}", "name", IMAGE_HOST, "builtin", 1,
					      "description", "the host's /usr, read-only"));
	for (char **n = names; *n; n++)
		json_array_append_new(list, describe_image(dir, *n));
	return http_reply_json(req, 200, json_pack("{s:o,s:s}", "images", list, "default",
						   daemon_state->cfg.default_image));
}

const struct http_route image_routes[] = {
	{ "GET", "/v1/images", get_images, 0 },
	{ NULL, NULL, NULL, 0 },
};
