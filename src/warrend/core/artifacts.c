/* The artifact store: see artifacts.h. */
#include "config.h"
#include "artifacts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "cleanup.h"
#include "daemon.h"
#include "encode.h"
#include "list.h"
#include "session-internal.h"
#include "loop.h"

#define RECORD_MAX 8192        /* bytes of an ID.json record */
#define EXPIRY_EVERY_MS 1000

struct artifact {
	char id[ARTIFACT_ID_LEN + 1];
	char owner[65];
	char name[ARTIFACT_NAME_MAX + 1];
	uint64_t size;
	time_t expires;
	struct list link;
};

/* A token's share of the quotas. */
static struct list artifacts = LIST_INIT(artifacts);
static uint64_t total_used, total_reserved, n_stored, stored_total, expired_total;
static uint8_t key[ARTIFACT_KEY_LEN];
static bool key_loaded;
static int dir_fd = -1;
static struct loop_timer *expiry_timer;

/* ---- the key ------------------------------------------------------------------ */

/* 64 hex digits, with blanks around them. */
static int parse_key(const char *text, size_t len, const char *path, wr_error *e)
{
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	while (len && isspace((unsigned char)*text))
		text++, len--;
	if (len != 2 * ARTIFACT_KEY_LEN)
		return wr_error_set(e, 0, "%s: expected %d hex digits (openssl rand -hex %d)", path,
				    2 * ARTIFACT_KEY_LEN, ARTIFACT_KEY_LEN), -EINVAL;
	for (size_t i = 0; i < ARTIFACT_KEY_LEN; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return wr_error_set(e, 0, "%s: expected %d hex digits", path, 2 * ARTIFACT_KEY_LEN), -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Reads the key, refusing a file others may read: whoever holds the key
 * can sign a URL to any artifact. */
static int read_key(const char *path, wr_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return wr_error_set(e, errno, "artifact key %s", path);
	if (fstat(fd, &st) < 0)
		return wr_error_set(e, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return wr_error_set(e, 0, "%s: not a regular file", path), -EINVAL;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return wr_error_set(e, 0, "%s: owned by uid %u; the artifact key must belong to root: run chown root %s",
				    path, (unsigned)st.st_uid, path), -EPERM;
	if (st.st_mode & 077)
		return wr_error_set(e, 0, "%s: mode %04o lets others read the artifact key; run chmod 600 %s", path,
				    (unsigned)(st.st_mode & 07777), path), -EPERM;
	char text[256];
	ssize_t n = read(fd, text, sizeof text);
	if (n < 0)
		return wr_error_set(e, errno, "read %s", path);
	return parse_key(text, (size_t)n, path, e);
}

/* The first start makes the key: 0600, written whole under a temporary
 * name and linked into place, so a crash never leaves half a key. */
static int make_key(const char *path, wr_error *e)
{
	char text[2 * ARTIFACT_KEY_LEN + 1], tmp[4200];
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		return wr_error_set(e, errno, "getrandom");
	hex_encode(key, ARTIFACT_KEY_LEN, text);
	text[2 * ARTIFACT_KEY_LEN] = '\n';
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "create %s", tmp);
	int r = write(fd, text, sizeof text) == (ssize_t)sizeof text ? 0 : -EIO;
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r == -EEXIST) /* another daemon made it meanwhile: take that one */
		return read_key(path, e);
	return r < 0 ? wr_error_set(e, -r, "write %s", path) : 0;
}

static int load_key(wr_error *e)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	if (cfg->artifact_key_file)
		return read_key(cfg->artifact_key_file, e);
	char path[4096];
	snprintf(path, sizeof path, "%s/artifact.key", cfg->state_dir);
	int r = read_key(path, e);
	return r == -ENOENT ? make_key(path, e) : r;
}

/* ---- accounting ---------------------------------------------------------------- */

static uint64_t left(uint64_t quota, uint64_t used)
{
	return used < quota ? quota - used : 0;
}

uint64_t artifacts_reserve(const char *owner, uint64_t want, const char **why)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	struct owner *o = owner_get(owner);
	if (!o) {
		*why = "out of memory";
		return 0;
	}
	uint64_t mine = left(cfg->artifact_quota_per_token, o->artifacts_used + o->artifacts_reserved);
	uint64_t all = left(cfg->artifact_quota, total_used + total_reserved);
	*why = mine <= all ? "this token's artifact quota (artifact_quota_per_token) is full"
			   : "warrend's artifact quota (artifact_quota) is full";
	uint64_t grant = want < mine ? want : mine;
	grant = grant < all ? grant : all;
	o->artifacts_reserved += grant;
	total_reserved += grant;
	return grant;
}

void artifacts_release(const char *owner, uint64_t bytes)
{
	struct owner *o = owner_get(owner);
	if (o)
		o->artifacts_reserved -= bytes < o->artifacts_reserved ? bytes : o->artifacts_reserved;
	total_reserved -= bytes < total_reserved ? bytes : total_reserved;
}

static void account(struct artifact *a, bool in)
{
	struct owner *o = owner_get(a->owner);
	if (in) {
		total_used += a->size;
		n_stored++;
		if (o)
			o->artifacts_used += a->size;
		return;
	}
	total_used -= a->size;
	n_stored--;
	if (o)
		o->artifacts_used -= a->size < o->artifacts_used ? a->size : o->artifacts_used;
}

/* ---- the store ------------------------------------------------------------------- */

static void unlink_files(const char *id)
{
	char name[ARTIFACT_ID_LEN + 8];
	snprintf(name, sizeof name, "%s.json", id);
	unlinkat(dir_fd, name, 0); /* the record first: without it the data is a leftover */
	snprintf(name, sizeof name, "%s.data", id);
	unlinkat(dir_fd, name, 0);
}

static struct artifact *find(const char *id)
{
	for (struct list *n = artifacts.next; n != &artifacts; n = n->next) {
		struct artifact *a = LIST_ENTRY(struct artifact, link, n);
		if (!strcmp(a->id, id))
			return a;
	}
	return NULL;
}

static int add(const char *id, const char *owner, const char *name, uint64_t size, time_t expires)
{
	if (strlen(id) != ARTIFACT_ID_LEN || strlen(owner) >= sizeof ((struct artifact *)0)->owner ||
	    strlen(name) > ARTIFACT_NAME_MAX || find(id))
		return -EINVAL;
	struct artifact *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	snprintf(a->id, sizeof a->id, "%s", id);
	snprintf(a->owner, sizeof a->owner, "%s", owner);
	snprintf(a->name, sizeof a->name, "%s", name);
	a->size = size;
	a->expires = expires;
	list_insert(&artifacts, &a->link);
	account(a, true);
	return 0;
}

int artifacts_add(const char *id, const char *owner, const char *name, uint64_t size, time_t expires)
{
	int r = add(id, owner, name, size, expires);
	stored_total += r == 0;
	return r;
}

static void remove_artifact(struct artifact *a)
{
	unlink_files(a->id);
	account(a, false);
	list_unlink(&a->link);
	free(a);
}

/* The wall clock as clients read it. time() reads the kernel's coarse
 * copy, which a starved machine updates late: CI saw it a second and
 * more behind, so a URL past its expiry still passed its check. An
 * artifact and its URLs live through the second `expires`, and go after. */
static time_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void expire(void *data)
{
	time_t now = wall_now();
	for (struct list *n = artifacts.next; n != &artifacts;) {
		struct artifact *a = LIST_ENTRY(struct artifact, link, n);
		n = n->next;
		if (a->expires < now) {
			if (daemon_state->cfg.verbose)
				daemon_log("artifact %s (%s, %llu bytes) expired: removed", a->id, a->name,
					   (unsigned long long)a->size);
			remove_artifact(a);
			expired_total++;
		}
	}
}

/* The names in the directory, or NULL. */
static char **dir_names(size_t *n)
{
	int copy = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
	if (!d) {
		if (copy >= 0)
			close(copy);
		return NULL;
	}
	size_t cap = 16;
	char **names = calloc(cap, sizeof *names);
	struct dirent *de;
	*n = 0;
	while (names && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n + 1 == cap) {
			char **grown = realloc(names, (cap *= 2) * sizeof *names);
			if (!grown)
				break;
			names = grown;
		}
		if ((names[*n] = strdup(de->d_name)))
			names[++*n] = NULL;
	}
	return names;
}

/* A record and its data as a previous run left them: 1 kept, 0 expired
 * (removed), -1 unusable (removed). */
static int adopt(const char *record, time_t now)
{
	char id[ARTIFACT_ID_LEN + 1], data[ARTIFACT_ID_LEN + 8];
	snprintf(id, sizeof id, "%.*s", (int)(strlen(record) - 5), record);
	_cleanup_close_ int fd = openat(dir_fd, record, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	char text[RECORD_MAX];
	ssize_t len = fd >= 0 ? read(fd, text, sizeof text) : -1;
	json_t *o = len > 0 ? json_loadb(text, (size_t)len, 0, NULL) : NULL;
	const char *owner = json_string_value(json_object_get(o, "owner"));
	const char *name = json_string_value(json_object_get(o, "name"));
	json_t *size = json_object_get(o, "size"), *expires = json_object_get(o, "expires");
	struct stat st;
	snprintf(data, sizeof data, "%s.data", id);
	int r = -1;
	if (owner && name && json_is_integer(size) && json_is_integer(expires) &&
	    fstatat(dir_fd, data, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == json_integer_value(size)) {
		r = json_integer_value(expires) >= now ? 1 : 0;
		if (r == 1 && add(id, owner, name, (uint64_t)st.st_size, (time_t)json_integer_value(expires)) < 0)
			r = -1;
	}
	json_decref(o);
	if (r < 1)
		unlink_files(id);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* Keeps what a previous run stored that has not expired; removes the
 * rest, and whatever has no record (a collection that never finished). */
static void sweep(void)
{
	size_t n = 0;
	char **names = dir_names(&n);
	unsigned kept = 0, expired = 0, broken = 0, leftovers = 0;
	time_t now = wall_now();
	for (size_t i = 0; names && i < n; i++) {
		if (!ends_with(names[i], ".json") || strlen(names[i]) != ARTIFACT_ID_LEN + 5)
			continue;
		int r = adopt(names[i], now);
		kept += r == 1, expired += r == 0, broken += r < 0;
	}
	for (size_t i = 0; names && i < n; i++) {
		char id[ARTIFACT_ID_LEN + 1];
		snprintf(id, sizeof id, "%.*s", ARTIFACT_ID_LEN, names[i]);
		if (strlen(names[i]) == ARTIFACT_ID_LEN + 5 && (ends_with(names[i], ".json") || ends_with(names[i], ".data")) &&
		    find(id))
			continue;
		if (unlinkat(dir_fd, names[i], 0) == 0)
			leftovers++;
	}
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (kept || expired || broken || leftovers)
		daemon_log("artifacts: %u kept from a previous run, %u expired, %u unreadable and %u leftover files "
			   "removed", kept, expired, broken, leftovers);
}

void artifacts_discard_prefix(const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);
	char **names = dir_names(&n);
	for (size_t i = 0; names && i < n; i++) {
		char id[ARTIFACT_ID_LEN + 1];
		snprintf(id, sizeof id, "%.*s", ARTIFACT_ID_LEN, names[i]);
		if (!strncmp(names[i], prefix, plen) && !find(id))
			unlinkat(dir_fd, names[i], 0);
		free(names[i]);
	}
	free(names);
}

int artifacts_init(struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	char path[4096];
	wr_error e = { 0 };
	if (load_key(&e) < 0)
		return wd_fail(err, 500, "%s", e.message);
	key_loaded = true;
	snprintf(path, sizeof path, "%s/artifacts", cfg->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return wd_fail(err, 500, "artifact directory %s: %s", path, strerror(errno));
	if ((dir_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return wd_fail(err, 500, "artifact directory %s: %s", path, strerror(errno));
	sweep();
	if (!(expiry_timer = loop_every(EXPIRY_EVERY_MS, expire, NULL)))
		return wd_fail(err, 500, "out of memory");
	return 0;
}

int artifacts_dir_fd(void)
{
	return dir_fd;
}

void artifacts_new_prefix(char out[ARTIFACT_ID_LEN - 8 + 1])
{
	uint8_t bytes[(ARTIFACT_ID_LEN - 8) / 2];
	if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
		abort(); /* never short for 12 bytes once the pool is ready */
	hex_encode(bytes, sizeof bytes, out);
}

time_t artifacts_expiry(void)
{
	return wall_now() + (time_t)(daemon_state->cfg.artifact_ttl_ms / 1000);
}

int artifacts_sign(const char *id, const char *name, time_t expires, char *out, size_t len)
{
	return artifact_url_sign(key, id, name, (int64_t)expires, out, len);
}

enum artifact_url_verdict artifacts_check_url(const char *target, size_t len, struct artifact_url *out)
{
	if (!key_loaded) /* never signed by a key not yet read */
		return artifact_url_check(key, target, len, 0, out) == ARTIFACT_URL_NOT_OURS ? ARTIFACT_URL_NOT_OURS
											   : ARTIFACT_URL_BAD;
	return artifact_url_check(key, target, len, (int64_t)wall_now(), out);
}

int artifacts_open(const struct artifact_url *u, uint64_t *size)
{
	struct artifact *a = find(u->id);
	if (!a || strcmp(a->name, u->name) || a->expires < wall_now())
		return -ENOENT;
	char name[ARTIFACT_ID_LEN + 8];
	snprintf(name, sizeof name, "%s.data", a->id);
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

void artifacts_get_stats(struct artifacts_stats *st)
{
	*st = (struct artifacts_stats){ .stored = n_stored, .bytes = total_used, .stored_total = stored_total,
					.expired_total = expired_total };
}
