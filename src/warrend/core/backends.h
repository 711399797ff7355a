/* The daemon's backends (src/lib/backends/backend.h): which ones started,
 * which is the default, and their health, checked off the event loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "wd-error.h"

/* At start-up: initializes every backend, checks the configured one and
 * falls back (loudly) when configured to. Fails when the daemon cannot
 * serve: the chosen backend is unhealthy and no healthy fallback. */
int backends_init(struct wd_error *err);
/* The backend sessions get when they name none. */
enum backend_kind backends_default(void);
/* The backend a request names (NULL: the default): 400 unknown name, 403
 * another than the default with allow_backend_choice off, 503 not usable
 * now. */
int backends_resolve(const char *name, enum backend_kind *out, struct wd_error *err);
struct backend_health {
	const char *name;
	bool healthy, is_default;
	const char *error;          /* when not healthy */
	const char *warning;        /* healthy, but something the operator should know */
};
void backends_foreach(void (*fn)(const struct backend_health *h, void *data), void *data);
/* From the daemon tick: starts and reaps the periodic health checks. */
void backends_tick(uint64_t now_ms);
/* At exit, after every sandbox is gone: the backends' empty state
 * directories go, and any health check still running. */
void backends_fini(void);
/* Removes what a crashed daemon left in every healthy backend, sparing
 * what keep() says belongs to a live daemon. */
unsigned backends_remove_stale(const char *prefix, bool (*keep)(const char *name));
