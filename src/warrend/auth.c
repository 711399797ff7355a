#include "config.h"

/* Tokens file: hashed at rest (SHA-256), compared in constant time. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

static struct token_entry *tokens;
static size_t n_tokens;
static char *tokens_path;

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

/* One line: NAME HASH. Errors say what a correct line looks like. */
static int parse_line(char *line, const char *path, unsigned lineno, struct token_entry *out, wr_error *e)
{
	char *name = strtok(line, " \t"), *hash = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");
	if (!name || !hash || extra)
		return wr_error_set(e, 0, "%s:%u: expected \"NAME SHA256HEX\"", path, lineno);
	if (!valid_name(name))
		return wr_error_set(e, 0, "%s:%u: invalid token name \"%s\" (letters, digits, . _ - @; at most %d)",
				    path, lineno, name, NAME_MAX_LEN);
	if (strcmp(name, AUTH_ANONYMOUS_OWNER) == 0)
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
	strcpy(out->name, name);
	return 0;
}

/* Opens the tokens file, refusing one that others may read or write:
 * hashes are not secrets, but a writable file would let anyone add a token. */
static FILE *open_tokens(const char *path, wr_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
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
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		wr_error_set(e, 0, "%s: mode %04o lets other users read or change the tokens; run chmod 600 %s",
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
	_cleanup_free_ struct token_entry *table = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, cap = 0, line_cap = 0;
	unsigned lineno = 0;
	ssize_t len;
	while ((len = getline(&line, &line_cap, f)) >= 0) {
		lineno++;
		line[strcspn(line, "#\r\n")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct token_entry *grown = realloc(table, cap * sizeof(*table));
			if (!grown)
				return wr_error_set(e, ENOMEM, "%s", path);
			table = grown;
		}
		int r = parse_line(line, path, lineno, &table[n], e);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if (strcmp(table[i].name, table[n].name) == 0)
				return wr_error_set(e, 0, "%s:%u: the name \"%s\" appears twice", path, lineno,
						    table[n].name);
		n++;
	}
	*out = TAKE_PTR(table);
	*n_out = n;
	return 0;
}

int auth_load(const char *path, wr_error *e)
{
	struct token_entry *table = NULL;
	size_t n = 0;
	if (path && access(path, F_OK) == 0) {
		int r = read_tokens(path, &table, &n, e);
		if (r < 0)
			return r;
	}
	char *path_copy = path ? strdup(path) : NULL;
	if (path && !path_copy) {
		free(table);
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

size_t auth_count(void)
{
	return n_tokens;
}

void auth_free(void)
{
	if (tokens)
		OPENSSL_cleanse(tokens, n_tokens * sizeof(*tokens));
	free(tokens);
	free(tokens_path);
	tokens = NULL;
	tokens_path = NULL;
	n_tokens = 0;
}

int auth_token_add(const char *path, const char *name, char token[65], wr_error *e)
{
	if (!valid_name(name))
		return wr_error_set(e, 0, "invalid token name \"%s\" (letters, digits, . _ - @; at most %d)",
				    name, NAME_MAX_LEN);
	if (strcmp(name, AUTH_ANONYMOUS_OWNER) == 0)
		return wr_error_set(e, 0, "the name \"%s\" is reserved for requests without a token", name);

	_cleanup_free_ struct token_entry *table = NULL;
	size_t n = 0;
	if (access(path, F_OK) == 0) {
		int r = read_tokens(path, &table, &n, e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return wr_error_set(e, 0, "%s already has a token named \"%s\"", path, name);

	unsigned char secret[32], hash[HASH_LEN];
	if (getrandom(secret, sizeof(secret), 0) != sizeof(secret))
		return wr_error_set(e, errno ? errno : EIO, "getrandom");
	to_hex(secret, sizeof(secret), token);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (sha256(token, 64, hash) < 0)
		return wr_error_set(e, EIO, "sha256");
	char hash_hex[2 * HASH_LEN + 1];
	to_hex(hash, HASH_LEN, hash_hex);

	_cleanup_close_ int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	/* A hand-edited file may lack its final newline. */
	struct stat st;
	char last = '\n';
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	_cleanup_free_ char *line = NULL;
	int len = asprintf(&line, "%s%s %s\n", last == '\n' ? "" : "\n", name, hash_hex);
	if (len < 0)
		return wr_error_set(e, ENOMEM, "%s", path);
	if (write(fd, line, len) != len)
		return wr_error_set(e, errno ? errno : EIO, "write %s", path);
	if (fsync(fd) < 0)
		return wr_error_set(e, errno, "fsync %s", path);
	return 0;
}
