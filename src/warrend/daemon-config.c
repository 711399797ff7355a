#include "config.h"

/* warrend.conf parser: one table maps each key to a field and a value
 * type, so every key is documented in one place (warrend.conf(5)). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "backend.h"
#include "cleanup.h"
#include "daemon-config.h"
#include "units.h"
#include "userns.h"

enum value_type { V_STRING, V_BOOL, V_UNSIGNED, V_MODE, V_SIZE, V_DURATION, V_LISTEN, V_VERBOSE, V_BACKEND,
		  V_FALLBACK, V_ORIGINS, V_HOSTS, V_LOG_FORMAT, V_E2B_TEMPLATE, V_URL };

struct config_key {
	const char *name;
	enum value_type type;
	size_t offset;
	unsigned min; /* V_UNSIGNED only */
};

#define FIELD(f) offsetof(struct daemon_config, f)
static const struct config_key config_keys[] = {
	{ "listen", V_LISTEN, 0, 0 },
	{ "socket_mode", V_MODE, FIELD(socket_mode), 0 },
	{ "socket_group", V_STRING, FIELD(socket_group), 0 },
	{ "state_dir", V_STRING, FIELD(state_dir), 0 },
	{ "tokens_file", V_STRING, FIELD(tokens_file), 0 },
	{ "auth_local", V_BOOL, FIELD(auth_local), 0 },
	{ "tokenless_loopback", V_BOOL, FIELD(tokenless_loopback), 0 },
	{ "allowed_origins", V_ORIGINS, FIELD(allowed_origins), 0 },
	{ "allowed_hosts", V_HOSTS, FIELD(allowed_hosts), 0 },
	{ "auth_head_max", V_SIZE, FIELD(auth_head_max), 0 },
	{ "auth_pending_max", V_UNSIGNED, FIELD(auth_pending_max), 1 },
	{ "auth_timeout", V_DURATION, FIELD(auth_timeout_ms), 0 },
	{ "allow_backend_choice", V_BOOL, FIELD(allow_backend_choice), 0 },
	{ "policy_dir", V_STRING, FIELD(policy_dir), 0 },
	{ "image_dir", V_STRING, FIELD(image_dir), 0 },
	{ "default_image", V_STRING, FIELD(default_image), 0 },
	{ "default_policy", V_STRING, FIELD(default_policy), 0 },
	{ "pool_size", V_UNSIGNED, FIELD(pool_size), 0 },
	{ "max_sessions", V_UNSIGNED, FIELD(max_sessions), 1 },
	{ "host_ids", V_STRING, FIELD(host_ids), 0 },
	{ "host_ids_per_sandbox", V_UNSIGNED, FIELD(host_ids_per_sandbox), UID_LAYOUT_MIN_SIZE },
	{ "max_sessions_per_token", V_UNSIGNED, FIELD(max_sessions_per_token), 1 },
	{ "max_execs_per_session", V_UNSIGNED, FIELD(max_execs_per_session), 1 },
	{ "max_execs_per_token", V_UNSIGNED, FIELD(max_execs_per_token), 1 },
	{ "max_processes_per_session", V_UNSIGNED, FIELD(max_processes_per_session), 1 },
	{ "max_process_followers", V_UNSIGNED, FIELD(max_process_followers), 1 },
	{ "process_buffer", V_SIZE, FIELD(process_buffer), 0 },
	{ "idle_timeout", V_DURATION, FIELD(idle_timeout_ms), 0 },
	{ "max_lifetime", V_DURATION, FIELD(max_lifetime_ms), 0 },
	{ "max_body", V_SIZE, FIELD(max_body), 0 },
	{ "max_json_body", V_SIZE, FIELD(max_json_body), 0 },
	{ "max_file_size", V_SIZE, FIELD(max_file_size), 0 },
	{ "mcp_session_timeout", V_DURATION, FIELD(mcp_session_timeout_ms), 0 },
	{ "max_mcp_sessions_per_token", V_UNSIGNED, FIELD(max_mcp_sessions_per_token), 1 },
	{ "e2b_listen", V_STRING, FIELD(e2b_listen), 0 },
	{ "e2b_template", V_E2B_TEMPLATE, 0, 0 },
	{ "public_url", V_URL, FIELD(public_url), 0 },
	{ "artifact_key_file", V_STRING, FIELD(artifact_key_file), 0 },
	{ "artifact_ttl", V_DURATION, FIELD(artifact_ttl_ms), 0 },
	{ "artifact_inline_max", V_SIZE, FIELD(artifact_inline_max), 0 },
	{ "artifact_quota", V_SIZE, FIELD(artifact_quota), 0 },
	{ "artifact_quota_per_token", V_SIZE, FIELD(artifact_quota_per_token), 0 },
	{ "verbose", V_VERBOSE, FIELD(verbose), 0 },
	{ "log_format", V_LOG_FORMAT, FIELD(log_format), 0 },
	{ "access_log", V_BOOL, FIELD(access_log), 0 },
	{ "backend", V_BACKEND, FIELD(backend), 0 },
	{ "backend_fallback", V_FALLBACK, FIELD(backend_fallback), 0 },
	/* each backend's own settings */
	{ "oci_runtime", V_STRING, FIELD(oci.runtime), 0 },
	{ "docker_socket", V_STRING, FIELD(docker.socket), 0 },
	{ "docker_image_prefix", V_STRING, FIELD(docker.image_prefix), 0 },
	{ "docker_host_image", V_STRING, FIELD(docker.host_image), 0 },
};

#ifndef WARREN_POLICYDIR
#define WARREN_POLICYDIR "/usr/local/share/warren/policy"
#endif
#ifndef WARREN_IMAGEDIR
#define WARREN_IMAGEDIR "/usr/local/var/lib/warren/images"
#endif

void config_defaults(struct daemon_config *cfg)
{
	*cfg = (struct daemon_config){
		.socket_mode = 0660,
		.state_dir = strdup("/run/warren"),
		.tokens_file = strdup(WARREND_TOKENS_FILE),
		.policy_dir = strdup(WARREN_POLICYDIR),
		.image_dir = strdup(WARREN_IMAGEDIR),
		.default_image = strdup("host"),
		.default_policy = strdup("default"),
		.pool_size = 8,
		.max_sessions = 1000,
		.host_ids_per_sandbox = UID_LAYOUT_SIZE,
		.max_sessions_per_token = 100,
		.max_execs_per_session = 64,
		.max_execs_per_token = 512,
		.max_processes_per_session = 16,
		.max_process_followers = 8,
		.process_buffer = 1 << 20,
		.idle_timeout_ms = 3600 * 1000,
		.max_lifetime_ms = 24 * 3600 * 1000,
		.max_body = 64 << 20,
		.max_json_body = 1 << 20,
		.max_file_size = 64 << 20,
		.mcp_session_timeout_ms = 3600 * 1000,
		.max_mcp_sessions_per_token = 16,
		.artifact_ttl_ms = 5 * 3600 * 1000,
		.artifact_inline_max = 64 << 10,
		.artifact_quota = 1ULL << 30,
		.artifact_quota_per_token = 256ULL << 20,
		.auth_head_max = 16 << 10,
		.auth_pending_max = 256,
		.auth_timeout_ms = 10 * 1000,
		.allow_backend_choice = true,
		.backend = BACKEND_NATIVE,
		.backend_fallback = -1,
		.access_log = true,
		.oci = { .runtime = strdup("runc") },
		.docker = { .socket = strdup("/run/docker.sock"), .image_prefix = strdup("warren-"),
			    .host_image = strdup("warren-minimal") },
	};
}

void config_clear_listen(struct daemon_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	cfg->listen = NULL;
	cfg->n_listen = 0;
}

static void free_list(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

void config_free(struct daemon_config *cfg)
{
	config_clear_listen(cfg);
	free_list(&cfg->allowed_origins, &cfg->n_allowed_origins);
	free_list(&cfg->allowed_hosts, &cfg->n_allowed_hosts);
	free_list(&cfg->e2b_templates, &cfg->n_e2b_templates);
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (config_keys[i].type == V_STRING || config_keys[i].type == V_URL) {
			char **field = (char **)((char *)cfg + config_keys[i].offset);
			free(*field);
			*field = NULL;
		}
}

static int add_listen(struct daemon_config *cfg, const char *value, wr_error *e)
{
	struct listen_addr addr;
	int r = config_parse_listen(value, &addr, e);
	if (r < 0)
		return r;
	char **grown = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(*grown));
	if (!grown)
		return wr_error_set(e, ENOMEM, "listen");
	cfg->listen = grown;
	if (!(cfg->listen[cfg->n_listen] = strdup(value)))
		return wr_error_set(e, ENOMEM, "listen");
	cfg->n_listen++;
	return 0;
}

/* "http://a.example:8080": a scheme and a host, no path; compared as
 * written (browsers send the scheme and host in lower case). */
static bool valid_origin(const char *v)
{
	const char *host = !strncmp(v, "http://", 7) ? v + 7 : !strncmp(v, "https://", 8) ? v + 8 : NULL;
	return host && *host && !strchr(host, '/');
}

/* A DNS name or an IPv4 address, or an IPv6 address in brackets; no port. */
static bool valid_host_name(const char *v)
{
	if (v[0] == '[')
		return v[strlen(v) - 1] == ']' && strspn(v + 1, "0123456789abcdefABCDEF:.") == strlen(v) - 2;
	return *v && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(v);
}

/* "NAME=IMAGE" or "NAME=IMAGE:POLICY": an E2B template id and the warren
 * image (and policy) its sandboxes get. */
static bool valid_template(const char *v)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	size_t name = strspn(v, name_chars), image;
	if (!name || name > 64 || v[name] != '=')
		return false;
	v += name + 1;
	if (!(image = strspn(v, name_chars)) || image > 64 || (v[image] && v[image] != ':'))
		return false;
	return !v[image] || (strspn(v + image + 1, name_chars) == strlen(v + image + 1) && v[image + 1]);
}

/* A comma- or blank-separated list, appended to what earlier lines gave. */
static int add_list(const char *key, const char *value, bool (*valid)(const char *), const char *expected,
		    char ***list, size_t *n, wr_error *e)
{
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return wr_error_set(e, ENOMEM, "%s", key);
	char *save = NULL;
	for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
		if (!valid(item))
			return wr_error_set(e, 0, "%s: invalid value \"%s\" (expected %s)", key, item, expected);
		char **grown = realloc(*list, (*n + 1) * sizeof(*grown));
		if (!grown)
			return wr_error_set(e, ENOMEM, "%s", key);
		*list = grown;
		if (!((*list)[*n] = strdup(item)))
			return wr_error_set(e, ENOMEM, "%s", key);
		(*n)++;
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static int parse_unsigned(const char *v, int base, unsigned long max, unsigned long *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	unsigned long n = strtoul(v, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || n > max)
		return -ERANGE;
	*out = n;
	return 0;
}

int config_set(struct daemon_config *cfg, const char *key, const char *value, wr_error *e)
{
	const struct config_key *k = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (strcmp(config_keys[i].name, key) == 0)
			k = &config_keys[i];
	if (!k)
		return wr_error_set(e, 0, "unknown key \"%s\"", key);
	void *field = (char *)cfg + k->offset;
	unsigned long n;
	bool b;
	int r = 0;
	const char *expected = "";

	switch (k->type) {
	case V_LISTEN:
		return add_listen(cfg, value, e);
	case V_ORIGINS:
		return add_list(key, value, valid_origin, "origins such as https://app.example or http://127.0.0.1:3000",
				&cfg->allowed_origins, &cfg->n_allowed_origins, e);
	case V_HOSTS:
		return add_list(key, value, valid_host_name, "host names such as warren.internal, without a port",
				&cfg->allowed_hosts, &cfg->n_allowed_hosts, e);
	case V_E2B_TEMPLATE:
		return add_list(key, value, valid_template, "NAME=IMAGE or NAME=IMAGE:POLICY, such as base=minimal",
				&cfg->e2b_templates, &cfg->n_e2b_templates, e);
	case V_URL:
		/* artifact URLs are this followed by their path */
		if (!valid_origin(value))
			return wr_error_set(e, 0, "%s: invalid value \"%s\" (expected a scheme and host such as "
					    "https://sandbox.example.com, without a path)", key, value);
		/* fall through */
	case V_STRING: {
		if (!*value)
			return wr_error_set(e, 0, "%s: empty value", key);
		char *copy = strdup(value);
		if (!copy)
			return wr_error_set(e, ENOMEM, "%s", key);
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case V_BOOL:
		expected = "true or false";
		if ((r = parse_bool(value, &b)) == 0)
			*(bool *)field = b;
		break;
	case V_VERBOSE:
		expected = "true, false or a level 0-3";
		if (parse_bool(value, &b) == 0)
			*(int *)field = b;
		else if ((r = parse_unsigned(value, 10, 3, &n)) == 0)
			*(int *)field = (int)n;
		break;
	case V_UNSIGNED:
		expected = "a whole number";
		if ((r = parse_unsigned(value, 10, UINT_MAX, &n)) == 0 && n < k->min)
			return wr_error_set(e, 0, "%s: %s is below the minimum of %u", key, value, k->min);
		if (r == 0)
			*(unsigned *)field = (unsigned)n;
		break;
	case V_MODE:
		expected = "an octal mode such as 0660";
		if ((r = parse_unsigned(value, 8, 0777, &n)) == 0)
			*(mode_t *)field = (mode_t)n;
		break;
	case V_SIZE:
		expected = "a size such as 64M";
		r = parse_size(value, (uint64_t *)field);
		break;
	case V_DURATION:
		expected = "a duration such as 30s, 5m or 1h";
		r = parse_duration(value, (uint64_t *)field);
		break;
	case V_LOG_FORMAT:
		expected = "text or json";
		if (!strcmp(value, "text"))
			*(int *)field = LOG_FORMAT_TEXT;
		else if (!strcmp(value, "json"))
			*(int *)field = LOG_FORMAT_JSON;
		else
			r = -EINVAL;
		break;
	case V_FALLBACK:
		if (!strcmp(value, "none")) {
			*(int *)field = -1;
			break;
		}
		/* fall through */
	case V_BACKEND: {
		enum backend_kind kind;
		expected = k->type == V_FALLBACK ? "native, oci, docker or none" : "native, oci or docker";
		if ((r = backend_kind_parse(value, &kind)) == 0)
			*(int *)field = kind;
		break;
	}
	}
	if (r < 0)
		return wr_error_set(e, 0, "%s: invalid value \"%s\" (expected %s)", key, value, expected);
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int config_parse_text(struct daemon_config *cfg, const char *name, const char *text, wr_error *e)
{
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return wr_error_set(e, ENOMEM, "%s", name);
	unsigned lineno = 0;
	for (char *line = copy, *next; line; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		/* "#" starts a comment at the start of a line or after a blank,
		 * so a value may still hold a '#' (a path "/srv/a#b"). */
		for (char *h = strchr(line, '#'); h; h = strchr(h + 1, '#'))
			if (h == line || isspace((unsigned char)h[-1])) {
				*h = '\0';
				break;
			}
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			return wr_error_set(e, 0, "%s:%u: expected \"key = value\", got \"%s\"", name, lineno, s);
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		int r = config_set(cfg, key, value, e);
		if (r < 0)
			return wr_error_prefix(e, "%s:%u: ", name, lineno);
	}
	return 0;
}

int config_parse_file(struct daemon_config *cfg, const char *path, bool must_exist, wr_error *e)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return wr_error_set(e, errno, "open %s", path);
	}
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	_cleanup_fclose_ FILE *mem = open_memstream(&text, &len);
	if (!mem)
		return wr_error_set(e, errno, "read %s", path);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	if (ferror(f))
		return wr_error_set(e, EIO, "read %s", path);
	fclose(TAKE_PTR(mem));
	if (memchr(text, '\0', len))
		return wr_error_set(e, 0, "%s: not a text file (NUL byte)", path);
	return config_parse_text(cfg, path, text, e);
}

int config_finish(struct daemon_config *cfg, wr_error *e)
{
	/* config_defaults' copies: every one is needed from here on */
	if (!cfg->state_dir || !cfg->tokens_file || !cfg->policy_dir || !cfg->image_dir || !cfg->default_image ||
	    !cfg->default_policy || !cfg->oci.runtime || !cfg->docker.socket || !cfg->docker.image_prefix ||
	    !cfg->docker.host_image)
		return wr_error_set(e, ENOMEM, "the configuration's defaults");
	if (cfg->auth_local && cfg->tokenless_loopback)
		return wr_error_set(e, 0, "auth_local (a token on the unix socket too) and tokenless_loopback "
				    "(none on loopback TCP) contradict each other: set one");
	/* Below 1K no real request head fits; above h2o's own limit it is moot. */
	if (cfg->auth_head_max < 1024 || cfg->auth_head_max > 256 * 1024)
		return wr_error_set(e, 0, "auth_head_max: %llu is outside 1K to 256K",
				    (unsigned long long)cfg->auth_head_max);
	if (cfg->auth_timeout_ms < 100)
		return wr_error_set(e, 0, "auth_timeout: at least 100ms");
	/* Below this a burst of output would keep nothing of itself. */
	if (cfg->process_buffer < 64 * 1024)
		return wr_error_set(e, 0, "process_buffer: at least 64K");
	if (cfg->e2b_listen) {
		struct listen_addr addr;
		if (config_parse_listen(cfg->e2b_listen, &addr, e) < 0)
			return wr_error_prefix(e, "e2b_listen: ");
		if (addr.is_unix)
			return wr_error_set(e, 0, "e2b_listen: E2B's SDKs reach it by an http:// URL: give IPV4:PORT or "
					    "[IPV6]:PORT, not \"%s\"", cfg->e2b_listen);
	}
	if (cfg->artifact_ttl_ms < 1000)
		return wr_error_set(e, 0, "artifact_ttl: at least 1s");
	/* The host ids every sandbox of this process draws from (userns.h). */
	char size[16];
	snprintf(size, sizeof size, "%u", cfg->host_ids_per_sandbox);
	struct uid_layout ids;
	int r = uid_layout_parse(cfg->host_ids, size, &ids, e);
	if (r < 0)
		return wr_error_prefix(e, "%s: ", cfg->host_ids ? "host_ids" : "host_ids_per_sandbox");
	uid_layout_set(&ids);
	if (cfg->n_listen == 0)
		return add_listen(cfg, WARREND_DEFAULT_LISTEN, e);
	return 0;
}

bool config_addr_is_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return in6->sin6_addr.s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

int config_parse_listen(const char *text, struct listen_addr *out, wr_error *e)
{
	*out = (struct listen_addr){ 0 };
	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		if (path[0] != '/')
			return wr_error_set(e, 0, "listen \"%s\": the socket path must be absolute", text);
		if (strlen(path) >= sizeof(out->path))
			return wr_error_set(e, 0, "listen \"%s\": the socket path is longer than %zu bytes",
					    text, sizeof(out->path) - 1);
		out->is_unix = true;
		strcpy(out->path, path);
		return 0;
	}

	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long port;
	if (!colon || (size_t)(colon - text) >= sizeof(host) ||
	    parse_unsigned(colon + 1, 10, 65535, &port) < 0 || port == 0)
		return wr_error_set(e, 0, "listen \"%s\": expected unix:/PATH, IPV4:PORT or [IPV6]:PORT", text);
	memcpy(host, text, colon - text);
	host[colon - text] = '\0';

	struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
	size_t hlen = strlen(host);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return wr_error_set(e, 0, "listen \"%s\": \"%s\" is not an IPv6 address", text, host + 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		out->salen = sizeof(*in6);
	} else {
		/* "localhost" is the one name accepted: resolving others would
		 * make start-up depend on DNS. */
		const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
		if (inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return wr_error_set(e, 0, "listen \"%s\": \"%s\" is not an IPv4 address (IPv6 goes in brackets)",
					    text, host);
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		out->salen = sizeof(*in);
	}
	out->loopback = config_addr_is_loopback(&out->sa);
	return 0;
}
