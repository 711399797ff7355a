/* The daemon's backends (src/lib/backends/backend.h): which ones started, which is
 * the default, and their health, checked off the event loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "backend.h"

/* At start-up: initializes every backend, checks the configured one and
 * falls back (loudly) when configured to. -1 with err when the daemon
 * cannot serve: the chosen backend is unhealthy and no healthy fallback. */
int backends_init(char *err, size_t errlen);
/* The backend sessions get when they name none. */
enum backend_kind backends_default(void);
/* The backend a request names (`field` may be NULL: the default). On
 * failure returns -1 with an HTTP status (400 unknown name, 403 another
 * than the default with allow_backend_choice off, 503 not usable now) and
 * the reason. */
int backends_resolve(json_t *field, enum backend_kind *out, int *status, char *err, size_t errlen);
/* The name of the backend a request asks for: the field's string, or the
 * default's name (`field` NULL or not a string). */
const char *backends_requested_name(json_t *field);
/* {"native": {"healthy": true, "default": true}, "oci": {…, "error": "…"},
 * "docker": {…, "warning": "…"}} */
json_t *backends_describe(void);
/* From the daemon tick: starts and reaps the periodic health checks. */
void backends_tick(uint64_t now_ms);
/* At exit, after every sandbox is gone: the backends' empty state
 * directories go, and any health check still running. */
void backends_fini(void);
/* Removes what a crashed daemon left in every healthy backend, sparing
 * what keep() says belongs to a live daemon. */
unsigned backends_remove_stale(const char *prefix, bool (*keep)(const char *name));
