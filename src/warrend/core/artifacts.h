/* Artifacts: files collected from sandboxes (collect.h, session-collect.c)
 * that warrend keeps for a while and serves by signed URL, so a file a
 * run produced can be handed to a browser or another service.
 *
 * On disk only, under STATE/artifacts: ID.data (the bytes) and ID.json
 * (the record: owner, name, size, expiry), written by the collector (a
 * child process), never held in the daemon's memory. Quotas per token
 * and in all (artifact_quota_per_token, artifact_quota) hold what is
 * stored plus what running collections may still store (their
 * reservation). An artifact is removed when it expires (artifact_ttl
 * after it was stored); a restarted daemon keeps the records it finds
 * that have not expired and removes the rest (and anything without a
 * record). The URL key is artifact_key_file's, or one made at first start
 * as STATE/artifact.key (root only). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "artifact-url.h"
#include "wd-error.h"

/* At start-up: the directory, the key, the sweep of what a previous run
 * left. */
int artifacts_init(struct wd_error *err);

/* A collection asks for up to `want` bytes of `owner`'s quota: the bytes
 * it may store (fewer when a quota is nearly full: 0 when full), held
 * until artifacts_release. *why says which quota bounds it (for the
 * report of what did not fit). */
uint64_t artifacts_reserve(const char *owner, uint64_t want, const char **why);
/* What a collection did not use goes back. */
void artifacts_release(const char *owner, uint64_t bytes);
/* A stored artifact's record (written by the collector) joins the store,
 * its bytes moving from the owner's reservation into use. */
int artifacts_add(const char *id, const char *owner, const char *name, uint64_t size, time_t expires);
/* Removes the files of ids starting with `prefix` that are not in the
 * store (a collector that failed part way). */
void artifacts_discard_prefix(const char *prefix);

/* The directory's fd (O_PATH) for the collector, and a new random id
 * prefix for its artifacts (ARTIFACT_ID_LEN - 8 hex digits; it numbers
 * the rest). */
int artifacts_dir_fd(void);
void artifacts_new_prefix(char out[ARTIFACT_ID_LEN - 8 + 1]);
/* When an artifact stored now expires. */
time_t artifacts_expiry(void);

/* The signed path of an artifact ("/v1/artifacts/ID/NAME?expires=…"). */
int artifacts_sign(const char *id, const char *name, time_t expires, char *out, size_t len);
/* Checks a request target with the daemon's key (artifact_url_check). */
enum artifact_url_verdict artifacts_check_url(const char *target, size_t len, struct artifact_url *out);
/* Opens a stored artifact (id and name as the checked URL says): its fd
 * and size, or -ENOENT (expired and removed, or never there). */
int artifacts_open(const struct artifact_url *u, uint64_t *size);

struct artifacts_stats {
	uint64_t stored, bytes;          /* now */
	uint64_t stored_total, expired_total; /* since start */
};
void artifacts_get_stats(struct artifacts_stats *st);
