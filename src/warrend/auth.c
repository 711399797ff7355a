#include "config.h"

/* Tokens file: hashed at rest (SHA-256), compared in constant time. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "cleanup.h"

#define HASH_LEN 32
#define NAME_MAX_LEN 64

struct token_entry {
	char name[NAME_MAX_LEN + 1];
	unsigned char hash[HASH_LEN];
	struct token_restrictions limits;
};

static struct token_entry *tokens;
static size_t n_tokens;
static char *tokens_path;

static void free_table(struct token_entry *table, size_t n)
{
	for (size_t i = 0; i < n; i++)
		auth_restrictions_free(&table[i].limits);
	if (table)
		OPENSSL_cleanse(table, n * sizeof(*table));
	free(table);
}

static int sha256(const void *data, size_t len, unsigned char out[HASH_LEN])
{
	unsigned int out_len = 0;
	if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 || out_len != HASH_LEN)
		return -EIO;
	return 0;
}

static void to_hex(const unsigned char *bytes, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-@", *c))
			return false;
	return true;
}

static bool reserved_name(const char *name)
{
	return strcmp(name, AUTH_SOCKET_OWNER) == 0 || strcmp(name, AUTH_LOOPBACK_OWNER) == 0;
}

/* ---- restrictions ------------------------------------------------------- */

void auth_restrictions_free(struct token_restrictions *r)
{
	strv_freep(&r->policies);
	strv_freep(&r->images);
	*r = (struct token_restrictions){ 0 };
}

/* "a,b,c" into a NULL-terminated list of names. */
static int parse_name_list(const char *key, const char *value, char ***out, wr_error *e)
{
	_cleanup_strv_ char **list = NULL;
	size_t n = 0;
	for (const char *item = value;; item++) {
		size_t len = strcspn(item, ",");
		_cleanup_free_ char *name = strndup(item, len);
		if (!name)
			return wr_error_set(e, ENOMEM, "%s", key);
		if (!valid_name(name) || strchr(name, '@'))
			return wr_error_set(e, 0, "%s: \"%s\" is not a name (letters, digits, . _ -; at most %d; "
					    "several are separated by commas)", key, name, NAME_MAX_LEN);
		char **grown = realloc(list, (n + 2) * sizeof(*list));
		if (!grown)
			return wr_error_set(e, ENOMEM, "%s", key);
		list = grown;
		list[n++] = TAKE_PTR(name);
		list[n] = NULL;
		item += len;
		if (!*item)
			break;
	}
	*out = TAKE_PTR(list);
	return 0;
}

static int parse_backend_list(const char *value, unsigned *out, wr_error *e)
{
	_cleanup_strv_ char **names = NULL;
	int r = parse_name_list("backends", value, &names, e);
	if (r < 0)
		return r;
	for (char **n = names; *n; n++) {
		enum backend_kind kind;
		if (backend_kind_parse(*n, &kind) < 0)
			return wr_error_set(e, 0, "backends: unknown backend \"%s\" (native, oci or docker)", *n);
		*out |= 1u << kind;
	}
	return 0;
}

static int parse_cap(const char *key, const char *value, unsigned *out, wr_error *e)
{
	char *end;
	errno = 0;
	unsigned long n = isdigit((unsigned char)*value) ? strtoul(value, &end, 10) : 0;
	if (n == 0 || *end || errno || n > 1000000)
		return wr_error_set(e, 0, "%s: expected a whole number from 1 to 1000000, got \"%s\"", key, value);
	*out = (unsigned)n;
	return 0;
}

int auth_restrictions_parse(char *text, struct token_restrictions *out, wr_error *e)
{
	static const char *const keys[] = { "policies", "images", "backends", "max_sessions", "max_execs" };
	struct token_restrictions r = { 0 };
	bool seen[ARRAY_SIZE(keys)] = { false };
	char *save = NULL;
	for (char *word = strtok_r(text, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(word, '=');
		size_t k = ARRAY_SIZE(keys);
		if (eq) {
			*eq = '\0';
			for (k = 0; k < ARRAY_SIZE(keys) && strcmp(keys[k], word) != 0; k++)
				;
		}
		int rc = 0;
		if (k == ARRAY_SIZE(keys))
			rc = wr_error_set(e, 0, "unknown restriction \"%s\" (expected policies=, images=, backends=, "
					  "max_sessions= or max_execs=)", word);
		else if (seen[k])
			rc = wr_error_set(e, 0, "%s is given twice", keys[k]);
		else if (k == 0)
			rc = parse_name_list(keys[k], eq + 1, &r.policies, e);
		else if (k == 1)
			rc = parse_name_list(keys[k], eq + 1, &r.images, e);
		else if (k == 2)
			rc = parse_backend_list(eq + 1, &r.backends, e);
		else
			rc = parse_cap(keys[k], eq + 1, k == 3 ? &r.max_sessions : &r.max_execs, e);
		if (rc < 0) {
			auth_restrictions_free(&r);
			return rc;
		}
		seen[k] = true;
	}
	*out = r;
	return 0;
}

const struct token_restrictions *auth_restrictions(const char *owner)
{
	for (size_t i = 0; i < n_tokens; i++)
		if (strcmp(tokens[i].name, owner) == 0) {
			const struct token_restrictions *r = &tokens[i].limits;
			bool any = r->policies || r->images || r->backends || r->max_sessions || r->max_execs;
			return any ? r : NULL;
		}
	return NULL;
}

unsigned auth_max_sessions(const char *owner, unsigned daemon_cap)
{
	const struct token_restrictions *r = auth_restrictions(owner);
	return r && r->max_sessions ? r->max_sessions : daemon_cap;
}

static bool strv_has(char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static void join(char *const *list, char *out, size_t len)
{
	out[0] = '\0';
	for (; *list; list++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? ", " : "", *list);
}

int auth_check_lease(const char *owner, const char *image, const char *policy, const char *backend_name, char *err,
		     size_t errlen)
{
	const struct token_restrictions *r = auth_restrictions(owner);
	char allowed[512];
	const char *field = NULL, *value = NULL;
	enum backend_kind backend;
	if (!r)
		return 0;
	if (backend_kind_parse(backend_name, &backend) < 0)
		backend = BACKEND_COUNT; /* not ours to judge: the caller answers 400 */
	if (r->policies && !strv_has(r->policies, policy)) {
		field = "policy", value = policy;
		join(r->policies, allowed, sizeof(allowed));
	} else if (r->images && !strv_has(r->images, image)) {
		field = "image", value = image;
		join(r->images, allowed, sizeof(allowed));
	} else if (r->backends && backend != BACKEND_COUNT && !(r->backends & (1u << backend))) {
		field = "backend", value = backend_kind_name(backend);
		allowed[0] = '\0';
		for (int k = 0; k < BACKEND_COUNT; k++)
			if (r->backends & (1u << k))
				snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
					 allowed[0] ? ", " : "", backend_kind_name((enum backend_kind)k));
	}
	if (!field)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not allowed for the token \"%s\" (allowed: %s)", field, value, owner,
		 allowed);
	return -1;
}

/* ---- the tokens file ------------------------------------------------------ */

/* One line: NAME HASH [RESTRICTION]... Errors say what a correct line looks like. */
static int parse_line(char *line, const char *path, unsigned lineno, struct token_entry *out, wr_error *e)
{
	char *save = NULL;
	char *name = strtok_r(line, " \t", &save), *hash = strtok_r(NULL, " \t", &save);
	if (!name || !hash)
		return wr_error_set(e, 0, "%s:%u: expected \"NAME SHA256HEX [RESTRICTION]...\"", path, lineno);
	if (!valid_name(name))
		return wr_error_set(e, 0, "%s:%u: invalid token name \"%s\" (letters, digits, . _ - @; at most %d)",
				    path, lineno, name, NAME_MAX_LEN);
	if (reserved_name(name))
		return wr_error_set(e, 0, "%s:%u: the name \"%s\" is reserved for requests without a token",
				    path, lineno, name);
	if (strlen(hash) != 2 * HASH_LEN)
		return wr_error_set(e, 0, "%s:%u: the hash must be 64 hex digits (sha256 of the token)", path, lineno);
	for (size_t i = 0; i < HASH_LEN; i++) {
		int hi = hex_value(hash[2 * i]), lo = hex_value(hash[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return wr_error_set(e, 0, "%s:%u: the hash must be 64 hex digits (sha256 of the token)",
					    path, lineno);
		out->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	char *rest = strtok_r(NULL, "", &save);
	out->limits = (struct token_restrictions){ 0 };
	if (rest && auth_restrictions_parse(rest, &out->limits, e) < 0)
		return wr_error_prefix(e, "%s:%u: ", path, lineno);
	strcpy(out->name, name);
	return 0;
}

/* Opens the tokens file, refusing one that others may read or write or
 * that someone else owns: hashes are not secrets, but whoever can change
 * the file can add a token. */
static FILE *open_tokens(const char *path, wr_error *e)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang the daemon. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 && errno == ELOOP) {
		wr_error_set(e, 0, "%s is a symbolic link: tokens_file must name the file itself", path);
		return NULL;
	}
	if (fd < 0) {
		wr_error_set(e, errno, "open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		wr_error_set(e, errno, "stat %s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		wr_error_set(e, 0, "%s: not a regular file", path);
		return NULL;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		wr_error_set(e, 0, "%s: owned by uid %u; the tokens file must belong to root (or to the user warrend "
			     "runs as): run chown root %s", path, (unsigned)st.st_uid, path);
		return NULL;
	}
	if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
		wr_error_set(e, 0, "%s: mode %04o lets group or others read or change the tokens; run chmod 600 %s",
			     path, (unsigned)(st.st_mode & 07777), path);
		return NULL;
	}
	FILE *f = fdopen(fd, "re");
	if (!f)
		wr_error_set(e, errno, "fdopen %s", path);
	else
		TAKE_FD(fd);
	return f;
}

static int read_tokens(const char *path, struct token_entry **out, size_t *n_out, wr_error *e)
{
	_cleanup_fclose_ FILE *f = open_tokens(path, e);
	if (!f)
		return -(e->code ? e->code : EINVAL);
	struct token_entry *table = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, cap = 0, line_cap = 0;
	unsigned lineno = 0;
	int r = 0;
	while (r == 0 && getline(&line, &line_cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "#\r\n")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct token_entry *grown = realloc(table, cap * sizeof(*table));
			if (!grown) {
				r = wr_error_set(e, ENOMEM, "%s", path);
				break;
			}
			table = grown;
		}
		if ((r = parse_line(line, path, lineno, &table[n], e)) < 0)
			break;
		n++;
		for (size_t i = 0; i + 1 < n; i++)
			if (strcmp(table[i].name, table[n - 1].name) == 0)
				r = wr_error_set(e, 0, "%s:%u: the name \"%s\" appears twice", path, lineno,
						 table[n - 1].name);
	}
	if (r < 0) {
		free_table(table, n);
		return r;
	}
	*out = table;
	*n_out = n;
	return 0;
}

int auth_load(const char *path, wr_error *e)
{
	struct token_entry *table = NULL;
	size_t n = 0;
	struct stat st;
	if (path && lstat(path, &st) == 0) {
		int r = read_tokens(path, &table, &n, e);
		if (r < 0)
			return r;
	}
	char *path_copy = path ? strdup(path) : NULL;
	if (path && !path_copy) {
		free_table(table, n);
		return wr_error_set(e, ENOMEM, "%s", path);
	}
	auth_free();
	tokens = table;
	n_tokens = n;
	tokens_path = path_copy;
	return 0;
}

int auth_reload(wr_error *e)
{
	_cleanup_free_ char *path = tokens_path ? strdup(tokens_path) : NULL;
	return auth_load(path, e);
}

const char *auth_owner(const char *token, size_t len)
{
	unsigned char hash[HASH_LEN];
	if (len == 0 || sha256(token, len, hash) < 0)
		return NULL;
	/* Every entry is compared, so the time does not tell which matched. */
	const char *owner = NULL;
	for (size_t i = 0; i < n_tokens; i++)
		if (CRYPTO_memcmp(hash, tokens[i].hash, HASH_LEN) == 0)
			owner = tokens[i].name;
	return owner;
}

const char *auth_owner_of_header(const char *value, size_t len, const char **why)
{
	if (len < 7 || strncasecmp(value, "Bearer ", 7) != 0) {
		*why = "the Authorization header must be \"Bearer TOKEN\"";
		return NULL;
	}
	const char *token = value + 7;
	size_t token_len = len - 7;
	while (token_len && *token == ' ')
		token++, token_len--;
	while (token_len && token[token_len - 1] == ' ')
		token_len--;
	const char *owner = auth_owner(token, token_len);
	if (!owner)
		*why = "invalid token";
	return owner;
}

size_t auth_count(void)
{
	return n_tokens;
}

void auth_free(void)
{
	free_table(tokens, n_tokens);
	free(tokens_path);
	tokens = NULL;
	tokens_path = NULL;
	n_tokens = 0;
}

static bool (*sandbox_secret_check)(const char *value, size_t len);

void auth_set_sandbox_secret_check(bool (*check)(const char *value, size_t len))
{
	sandbox_secret_check = check;
}

bool auth_sandbox_secret_valid(const char *value, size_t len)
{
	return sandbox_secret_check && len && sandbox_secret_check(value, len);
}

int auth_token_add(const char *path, const char *name, const char *restrictions, const char *prefix,
		   char token[AUTH_TOKEN_MAX + 1], wr_error *e)
{
	if (!prefix)
		prefix = "";
	if (strlen(prefix) > AUTH_TOKEN_MAX - 64)
		return wr_error_set(e, 0, "token prefix \"%s\" is too long", prefix);
	if (!valid_name(name))
		return wr_error_set(e, 0, "invalid token name \"%s\" (letters, digits, . _ - @; at most %d)",
				    name, NAME_MAX_LEN);
	if (reserved_name(name))
		return wr_error_set(e, 0, "the name \"%s\" is reserved for requests without a token", name);
	if (!restrictions)
		restrictions = "";
	_cleanup_free_ char *checked = strdup(restrictions);
	struct token_restrictions limits;
	if (!checked)
		return wr_error_set(e, ENOMEM, "restrictions");
	if (strpbrk(restrictions, "#\r\n"))
		return wr_error_set(e, 0, "restrictions may not contain '#' or line breaks");
	int r = auth_restrictions_parse(checked, &limits, e);
	if (r < 0)
		return r;
	auth_restrictions_free(&limits);

	struct token_entry *table = NULL;
	size_t n = 0;
	struct stat st;
	if (lstat(path, &st) == 0 && (r = read_tokens(path, &table, &n, e)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		if (strcmp(table[i].name, name) == 0)
			r = wr_error_set(e, 0, "%s already has a token named \"%s\"", path, name);
	free_table(table, n);
	if (r < 0)
		return r;

	unsigned char secret[32], hash[HASH_LEN];
	if (getrandom(secret, sizeof(secret), 0) != sizeof(secret))
		return wr_error_set(e, errno ? errno : EIO, "getrandom");
	size_t plen = strlen(prefix);
	memcpy(token, prefix, plen);
	to_hex(secret, sizeof(secret), token + plen);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (sha256(token, plen + 64, hash) < 0)
		return wr_error_set(e, EIO, "sha256");
	char hash_hex[2 * HASH_LEN + 1];
	to_hex(hash, HASH_LEN, hash_hex);

	_cleanup_close_ int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	/* A hand-edited file may lack its final newline. */
	char last = '\n';
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	_cleanup_free_ char *line = NULL;
	int len = asprintf(&line, "%s%s %s%s%s\n", last == '\n' ? "" : "\n", name, hash_hex, *restrictions ? " " : "",
			   restrictions);
	if (len < 0)
		return wr_error_set(e, ENOMEM, "%s", path);
	if (write(fd, line, len) != len)
		return wr_error_set(e, errno ? errno : EIO, "write %s", path);
	if (fsync(fd) < 0)
		return wr_error_set(e, errno, "fsync %s", path);
	return 0;
}
