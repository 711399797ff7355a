/* warrend.conf parsing, listen addresses and the tokens file. */
#include "config.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "backend.h"
#include "daemon-config.h"
#include "userns.h"

static void expect_error(const char *text, const char *message);
static void expect_finish_error(const char *text, const char *message);

START_TEST(defaults_match_the_documentation)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	ck_assert_int_eq(config_finish(&cfg, &e), 0);
	ck_assert_uint_eq(cfg.n_listen, 1);
	ck_assert_str_eq(cfg.listen[0], "unix:/run/warren/warrend.sock");
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert_str_eq(cfg.state_dir, "/run/warren");
	ck_assert_uint_eq(cfg.pool_size, 8);
	ck_assert_uint_eq(cfg.max_sessions, 1000);
	ck_assert_uint_eq(cfg.max_sessions_per_token, 100);
	ck_assert_uint_eq(cfg.max_execs_per_session, 64);
	ck_assert_uint_eq(cfg.max_execs_per_token, 512);
	ck_assert_uint_eq(cfg.idle_timeout_ms, 3600 * 1000);
	ck_assert_uint_eq(cfg.max_lifetime_ms, 24 * 3600 * 1000);
	ck_assert_uint_eq(cfg.max_body, 64 << 20);
	ck_assert_uint_eq(cfg.max_json_body, 1 << 20);
	ck_assert_uint_eq(cfg.mcp_session_timeout_ms, 3600 * 1000);
	ck_assert_uint_eq(cfg.max_mcp_sessions_per_token, 16);
	ck_assert(!cfg.auth_local);
	ck_assert(!cfg.tokenless_loopback);
	ck_assert_ptr_null(cfg.socket_group); /* "warren" when it exists */
	ck_assert_uint_eq(cfg.n_allowed_origins, 0);
	ck_assert_uint_eq(cfg.n_allowed_hosts, 0);
	ck_assert_uint_eq(cfg.auth_head_max, 16 << 10);
	ck_assert_uint_eq(cfg.auth_pending_max, 256);
	ck_assert_uint_eq(cfg.auth_timeout_ms, 10000);
	ck_assert(cfg.allow_backend_choice);
	ck_assert_int_eq(cfg.backend, BACKEND_NATIVE);
	ck_assert_int_eq(cfg.backend_fallback, -1);
	ck_assert_str_eq(cfg.oci.runtime, "runc");
	ck_assert_str_eq(cfg.docker.socket, "/run/docker.sock");
	ck_assert_str_eq(cfg.docker.image_prefix, "warren-");
	ck_assert_str_eq(cfg.docker.host_image, "warren-minimal");
	ck_assert_ptr_null(cfg.public_url);
	ck_assert_ptr_null(cfg.artifact_key_file);
	ck_assert_uint_eq(cfg.artifact_ttl_ms, 5 * 3600 * 1000);
	ck_assert_uint_eq(cfg.artifact_inline_max, 64 << 10);
	ck_assert_uint_eq(cfg.artifact_quota, 1ULL << 30);
	ck_assert_uint_eq(cfg.artifact_quota_per_token, 256ULL << 20);
	ck_assert_ptr_null(cfg.host_ids); /* userns.h's layout */
	ck_assert_uint_eq(cfg.host_ids_per_sandbox, 16384);
	ck_assert_uint_eq(uid_layout_get()->first, 0x70000000u);
	ck_assert_uint_eq(uid_layout_get()->last, 0x7FFDFFFFu);
	config_free(&cfg);
}
END_TEST

START_TEST(artifact_keys)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	const char *text = "public_url = https://files.example:8443\nartifact_key_file = /etc/warren/k\n"
			   "artifact_ttl = 30m\nartifact_inline_max = 0\nartifact_quota = 2G\n"
			   "artifact_quota_per_token = 100M\n";
	ck_assert_msg(config_parse_text(&cfg, "t.conf", text, &e) == 0, "%s", e.message);
	ck_assert_str_eq(cfg.public_url, "https://files.example:8443");
	ck_assert_str_eq(cfg.artifact_key_file, "/etc/warren/k");
	ck_assert_uint_eq(cfg.artifact_ttl_ms, 1800000);
	ck_assert_uint_eq(cfg.artifact_inline_max, 0);
	ck_assert_uint_eq(cfg.artifact_quota, 2ULL << 30);
	ck_assert_uint_eq(cfg.artifact_quota_per_token, 100ULL << 20);
	config_free(&cfg);
	expect_error("public_url = https://files.example/dl\n", "warrend.conf:1: public_url: invalid value "
		     "\"https://files.example/dl\" (expected a scheme and host such as https://sandbox.example.com, without a path)");
	expect_error("public_url = files.example\n", "warrend.conf:1: public_url: invalid value \"files.example\" "
		     "(expected a scheme and host such as https://sandbox.example.com, without a path)");
	expect_finish_error("artifact_ttl = 500ms\n", "artifact_ttl: at least 1s");
}
END_TEST

START_TEST(every_key_parses)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	const char *text =
		"# a comment\n"
		"\n"
		"listen = unix:/tmp/a.sock\n"
		"listen = 127.0.0.1:8080   # trailing comment\n"
		"  listen=[::1]:9000\n"
		"socket_mode = 0600\n"
		"socket_group = warren\n"
		"state_dir = /run/w#1\n"
		"tokens_file = /etc/w/tokens\n"
		"auth_local = yes\n"
		"policy_dir = /p\n"
		"image_dir = /i\n"
		"default_image = python\n"
		"default_policy = strict\n"
		"pool_size = 0\n"
		"max_sessions = 5\n"
		"max_sessions_per_token = 2\n"
		"max_execs_per_session = 3\n"
		"max_execs_per_token = 7\n"
		"idle_timeout = 5m\n"
		"max_lifetime = 2h\n"
		"max_body = 1G\n"
		"max_json_body = 64K\n"
		"max_file_size = 10M\n"
		"mcp_session_timeout = 10m\n"
		"max_mcp_sessions_per_token = 4\n"
		"verbose = 2\n"
		"backend = docker\n"
		"backend_fallback = native\n"
		"oci_runtime = /usr/bin/crun\n"
		"docker_socket = /run/podman/podman.sock\n"
		"docker_image_prefix = localhost/w-\n"
		"docker_host_image = warren-python\n"
		"allowed_origins = https://app.example, http://127.0.0.1:3000\n"
		"allowed_origins = https://b.example\n"
		"allowed_hosts = warren.internal [::1]\n"
		"auth_head_max = 8K\n"
		"auth_pending_max = 16\n"
		"auth_timeout = 2s\n"
		"allow_backend_choice = no\n"
		"host_ids = 100000-500000\n"
		"host_ids_per_sandbox = 4096\n";
	ck_assert_msg(config_parse_text(&cfg, "t.conf", text, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(cfg.n_allowed_origins, 3);
	ck_assert_str_eq(cfg.allowed_origins[1], "http://127.0.0.1:3000");
	ck_assert_str_eq(cfg.allowed_origins[2], "https://b.example");
	ck_assert_uint_eq(cfg.n_allowed_hosts, 2);
	ck_assert_str_eq(cfg.allowed_hosts[1], "[::1]");
	ck_assert_uint_eq(cfg.auth_head_max, 8192);
	ck_assert_uint_eq(cfg.auth_pending_max, 16);
	ck_assert_uint_eq(cfg.auth_timeout_ms, 2000);
	ck_assert(!cfg.allow_backend_choice);
	ck_assert_int_eq(cfg.backend, BACKEND_DOCKER);
	ck_assert_int_eq(cfg.backend_fallback, BACKEND_NATIVE);
	ck_assert_str_eq(cfg.oci.runtime, "/usr/bin/crun");
	ck_assert_str_eq(cfg.docker.socket, "/run/podman/podman.sock");
	ck_assert_str_eq(cfg.docker.image_prefix, "localhost/w-");
	ck_assert_str_eq(cfg.docker.host_image, "warren-python");
	ck_assert_msg(config_parse_text(&cfg, "t.conf", "backend_fallback = none\n", &e) == 0, "%s", e.message);
	ck_assert_int_eq(cfg.backend_fallback, -1);
	ck_assert_uint_eq(cfg.n_listen, 3);
	ck_assert_str_eq(cfg.listen[1], "127.0.0.1:8080");
	ck_assert_str_eq(cfg.listen[2], "[::1]:9000");
	ck_assert_uint_eq(cfg.socket_mode, 0600);
	ck_assert_str_eq(cfg.socket_group, "warren");
	ck_assert_str_eq(cfg.state_dir, "/run/w#1");
	ck_assert_str_eq(cfg.tokens_file, "/etc/w/tokens");
	ck_assert(cfg.auth_local);
	ck_assert_str_eq(cfg.policy_dir, "/p");
	ck_assert_str_eq(cfg.image_dir, "/i");
	ck_assert_str_eq(cfg.default_image, "python");
	ck_assert_str_eq(cfg.default_policy, "strict");
	ck_assert_uint_eq(cfg.pool_size, 0);
	ck_assert_uint_eq(cfg.max_sessions, 5);
	ck_assert_uint_eq(cfg.max_sessions_per_token, 2);
	ck_assert_uint_eq(cfg.max_execs_per_session, 3);
	ck_assert_uint_eq(cfg.max_execs_per_token, 7);
	ck_assert_uint_eq(cfg.idle_timeout_ms, 300000);
	ck_assert_uint_eq(cfg.max_lifetime_ms, 7200000);
	ck_assert_uint_eq(cfg.max_body, 1ULL << 30);
	ck_assert_uint_eq(cfg.max_json_body, 65536);
	ck_assert_uint_eq(cfg.max_file_size, 10 << 20);
	ck_assert_uint_eq(cfg.mcp_session_timeout_ms, 600000);
	ck_assert_uint_eq(cfg.max_mcp_sessions_per_token, 4);
	ck_assert_int_eq(cfg.verbose, 2);
	/* The file named a listener: the default socket is not added. */
	ck_assert_int_eq(config_finish(&cfg, &e), 0);
	ck_assert_uint_eq(cfg.n_listen, 3);
	/* the layout every sandbox of the daemon draws from */
	ck_assert_uint_eq(uid_layout_get()->first, 100000);
	ck_assert_uint_eq(uid_layout_get()->last, 500000);
	ck_assert_uint_eq(uid_layout_get()->size, 4096);
	config_clear_listen(&cfg);
	ck_assert_uint_eq(cfg.n_listen, 0);
	config_free(&cfg);
}
END_TEST

static void expect_error(const char *text, const char *message)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	ck_assert_int_lt(config_parse_text(&cfg, "warrend.conf", text, &e), 0);
	ck_assert_msg(strcmp(e.message, message) == 0, "got \"%s\", expected \"%s\"", e.message, message);
	config_free(&cfg);
}

START_TEST(errors_name_the_line)
{
	expect_error("pool_size = 1\nfoo = 2\n", "warrend.conf:2: unknown key \"foo\"");
	expect_error("\n\npool_size = lots\n",
		     "warrend.conf:3: pool_size: invalid value \"lots\" (expected a whole number)");
	expect_error("pool_size = -1\n", "warrend.conf:1: pool_size: invalid value \"-1\" (expected a whole number)");
	expect_error("max_sessions = 0\n", "warrend.conf:1: max_sessions: 0 is below the minimum of 1");
	expect_error("just words\n", "warrend.conf:1: expected \"key = value\", got \"just words\"");
	expect_error("auth_local = maybe\n",
		     "warrend.conf:1: auth_local: invalid value \"maybe\" (expected true or false)");
	expect_error("socket_mode = 0999\n",
		     "warrend.conf:1: socket_mode: invalid value \"0999\" (expected an octal mode such as 0660)");
	expect_error("idle_timeout = soon\n",
		     "warrend.conf:1: idle_timeout: invalid value \"soon\" (expected a duration such as 30s, 5m or 1h)");
	expect_error("max_body = 12Q\n", "warrend.conf:1: max_body: invalid value \"12Q\" (expected a size such as 64M)");
	expect_error("state_dir =\n", "warrend.conf:1: state_dir: empty value");
	expect_error("backend = lxc\n",
		     "warrend.conf:1: backend: invalid value \"lxc\" (expected native, oci or docker)");
	expect_error("backend = none\n",
		     "warrend.conf:1: backend: invalid value \"none\" (expected native, oci or docker)");
	expect_error("backend_fallback = podman\n",
		     "warrend.conf:1: backend_fallback: invalid value \"podman\" (expected native, oci, docker or none)");
	expect_error("allowed_origins = app.example\n", "warrend.conf:1: allowed_origins: invalid value "
		     "\"app.example\" (expected origins such as https://app.example or http://127.0.0.1:3000)");
	expect_error("allowed_origins = https://a.example/path\n", "warrend.conf:1: allowed_origins: invalid value "
		     "\"https://a.example/path\" (expected origins such as https://app.example or http://127.0.0.1:3000)");
	expect_error("allowed_hosts = a.example:8080\n", "warrend.conf:1: allowed_hosts: invalid value "
		     "\"a.example:8080\" (expected host names such as warren.internal, without a port)");
	expect_error("auth_pending_max = 0\n", "warrend.conf:1: auth_pending_max: 0 is below the minimum of 1");
	expect_error("listen = 8080\n",
		     "warrend.conf:1: listen \"8080\": expected unix:/PATH, IPV4:PORT or [IPV6]:PORT");
}
END_TEST

static void expect_finish_error(const char *text, const char *message)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	ck_assert_int_eq(config_parse_text(&cfg, "warrend.conf", text, &e), 0);
	ck_assert_int_lt(config_finish(&cfg, &e), 0);
	ck_assert_msg(strcmp(e.message, message) == 0, "got \"%s\", expected \"%s\"", e.message, message);
	config_free(&cfg);
}

START_TEST(keys_that_depend_on_each_other)
{
	expect_finish_error("auth_local = true\ntokenless_loopback = true\n",
			    "auth_local (a token on the unix socket too) and tokenless_loopback (none on loopback "
			    "TCP) contradict each other: set one");
	expect_finish_error("auth_head_max = 512\n", "auth_head_max: 512 is outside 1K to 256K");
	expect_finish_error("auth_head_max = 1M\n", "auth_head_max: 1048576 is outside 1K to 256K");
	expect_finish_error("auth_timeout = 10ms\n", "auth_timeout: at least 100ms");
	expect_finish_error("host_ids = 0x7FFE0000-0x7FFEFFFF\n",
			    "host_ids: host ids 2147352576-2147418111: must lie within 65536-524287 or "
			    "1879048192-2147352575 (0x70000000-0x7FFDFFFF); the rest belongs to the system's users, "
			    "systemd's dynamic users, container and foreign ranges, or is past 2^31");
	expect_finish_error("host_ids = 1-2-3\n",
			    "host_ids: host ids \"1-2-3\": expected FIRST-LAST, e.g. 1879048192-2147352575");
	expect_finish_error("host_ids_per_sandbox = 70000\n",
			    "host_ids_per_sandbox: host ids per sandbox: 70000 is outside 1001-65536 (root, the "
			    "sandbox user 1000 and the images' system users need the low ids)");
}
END_TEST

START_TEST(listen_addresses)
{
	struct listen_addr a;
	wr_error e = { 0 };
	ck_assert_int_eq(config_parse_listen("unix:/run/warren/warrend.sock", &a, &e), 0);
	ck_assert(a.is_unix);
	ck_assert_str_eq(a.path, "/run/warren/warrend.sock");
	ck_assert_int_eq(config_parse_listen("127.0.0.1:8080", &a, &e), 0);
	ck_assert(!a.is_unix && a.loopback && a.sa.ss_family == AF_INET);
	ck_assert_int_eq(config_parse_listen("127.1.2.3:1", &a, &e), 0);
	ck_assert(a.loopback);
	ck_assert_int_eq(config_parse_listen("localhost:80", &a, &e), 0);
	ck_assert(a.loopback);
	ck_assert_int_eq(config_parse_listen("0.0.0.0:8080", &a, &e), 0);
	ck_assert(!a.loopback);
	ck_assert_int_eq(config_parse_listen("[::1]:8080", &a, &e), 0);
	ck_assert(a.loopback && a.sa.ss_family == AF_INET6);
	ck_assert_int_eq(config_parse_listen("[::]:8080", &a, &e), 0);
	ck_assert(!a.loopback);
	ck_assert_int_eq(config_parse_listen("10.1.2.3:65535", &a, &e), 0);
	ck_assert(!a.loopback);

	ck_assert_int_lt(config_parse_listen("unix:relative.sock", &a, &e), 0);
	ck_assert_str_eq(e.message, "listen \"unix:relative.sock\": the socket path must be absolute");
	ck_assert_int_lt(config_parse_listen("127.0.0.1:0", &a, &e), 0);
	ck_assert_int_lt(config_parse_listen("127.0.0.1:65536", &a, &e), 0);
	ck_assert_int_lt(config_parse_listen("::1:80", &a, &e), 0);
	ck_assert_int_lt(config_parse_listen("example.com:80", &a, &e), 0);
	ck_assert_str_eq(e.message, "listen \"example.com:80\": \"example.com\" is not an IPv4 address "
				    "(IPv6 goes in brackets)");
	char longpath[200] = "unix:/";
	memset(longpath + 6, 'a', 150);
	ck_assert_int_lt(config_parse_listen(longpath, &a, &e), 0);
}
END_TEST

START_TEST(missing_files)
{
	struct daemon_config cfg;
	wr_error e = { 0 };
	config_defaults(&cfg);
	ck_assert_int_eq(config_parse_file(&cfg, "/nonexistent/warrend.conf", false, &e), 0);
	ck_assert_int_eq(config_parse_file(&cfg, "/nonexistent/warrend.conf", true, &e), -ENOENT);
	ck_assert_str_eq(e.message, "open /nonexistent/warrend.conf: No such file or directory");
	config_free(&cfg);
}
END_TEST

static char *write_temp(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/test-config-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* A well-formed hash whose token nobody knows. */
#define HASH_A "91ec8a0b1c97b5d3ae6b4e82f8a0dc7dc2a8ed6bd0ba4b6a37bde45e8b0eb1fa"

START_TEST(tokens_file)
{
	wr_error e = { 0 };
	char token[AUTH_TOKEN_MAX + 1];
	char *path = write_temp("# tokens\n", 0600);
	ck_assert_msg(auth_token_add(path, "alice", NULL, NULL, token, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(strlen(token), 64);
	char second[AUTH_TOKEN_MAX + 1];
	ck_assert_int_eq(auth_token_add(path, "bob", "", NULL, second, &e), 0);
	ck_assert_str_ne(token, second);
	ck_assert_int_lt(auth_token_add(path, "alice", NULL, NULL, second, &e), 0);
	ck_assert_int_lt(auth_token_add(path, "local", NULL, NULL, second, &e), 0);
	ck_assert_int_lt(auth_token_add(path, "loopback", NULL, NULL, second, &e), 0);
	ck_assert_str_eq(e.message, "the name \"loopback\" is reserved for requests without a token");
	ck_assert_int_lt(auth_token_add(path, "bad name", NULL, NULL, second, &e), 0);

	ck_assert_msg(auth_load(path, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(auth_count(), 2);
	ck_assert_str_eq(auth_owner(token, 64), "alice");
	ck_assert_str_eq(auth_owner(second, 64), "bob");
	ck_assert_ptr_null(auth_owner(token, 63));
	ck_assert_ptr_null(auth_owner("", 0));

	/* The file holds hashes only, never the token itself. */
	char text[1024] = "";
	FILE *f = fopen(path, "r");
	ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	ck_assert_ptr_null(strstr(text, token));

	/* A world-readable file is refused and the loaded tokens stay. */
	chmod(path, 0644);
	ck_assert_int_lt(auth_reload(&e), 0);
	ck_assert_ptr_nonnull(strstr(e.message, "chmod 600"));
	ck_assert_str_eq(auth_owner(token, 64), "alice");
	unlink(path);
	free(path);
	auth_free();
}
END_TEST

/* warrend(8): refused unless only its owner (root, or warrend's own user)
 * may read and write it. */
START_TEST(tokens_file_permissions)
{
	static const mode_t refused[] = { 0640, 0620, 0604, 0602, 0660 };
	wr_error e = { 0 };
	char expected[512];
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		char *path = write_temp("alice " HASH_A "\n", refused[i]);
		ck_assert_int_lt(auth_load(path, &e), 0);
		snprintf(expected, sizeof(expected), "%s: mode %04o lets group or others read or change the tokens; "
			 "run chmod 600 %s", path, (unsigned)refused[i], path);
		ck_assert_str_eq(e.message, expected);
		unlink(path);
		free(path);
	}
	/* A symbolic link, even to a good file, is refused. */
	char *target = write_temp("alice " HASH_A "\n", 0600);
	char link[64];
	snprintf(link, sizeof(link), "%s.link", target);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_lt(auth_load(link, &e), 0);
	snprintf(expected, sizeof(expected), "%s is a symbolic link: tokens_file must name the file itself", link);
	ck_assert_str_eq(e.message, expected);
	ck_assert_int_eq(auth_load(target, &e), 0);
	ck_assert_uint_eq(auth_count(), 1);
	unlink(link);
	unlink(target);
	free(target);
	auth_free();
}
END_TEST

START_TEST(token_restrictions)
{
	wr_error e = { 0 };
	char *path = write_temp("free " HASH_A "\n"
				"ci 0000000000000000000000000000000000000000000000000000000000000001 "
				"policies=default,python images=host backends=native,oci max_sessions=3 max_execs=7\n",
				0600);
	ck_assert_msg(auth_load(path, &e) == 0, "%s", e.message);
	ck_assert_ptr_null(auth_restrictions("free"));
	ck_assert_ptr_null(auth_restrictions("local"));
	const struct token_restrictions *r = auth_restrictions("ci");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->policies[1], "python");
	ck_assert_ptr_null(r->policies[2]);
	ck_assert_str_eq(r->images[0], "host");
	ck_assert_uint_eq(r->backends, 1u << BACKEND_NATIVE | 1u << BACKEND_OCI);
	ck_assert_uint_eq(r->max_sessions, 3);
	ck_assert_uint_eq(r->max_execs, 7);
	ck_assert_uint_eq(auth_max_sessions("ci", 100), 3);
	ck_assert_uint_eq(auth_max_sessions("free", 100), 100);

	char err[256];
	ck_assert_int_eq(auth_check_lease("free", "python", "strict", "docker", err, sizeof(err)), 0);
	ck_assert_int_eq(auth_check_lease("ci", "host", "python", "oci", err, sizeof(err)), 0);
	ck_assert_int_lt(auth_check_lease("ci", "host", "strict", "native", err, sizeof(err)), 0);
	ck_assert_str_eq(err, "policy: \"strict\" is not allowed for the token \"ci\" (allowed: default, python)");
	ck_assert_int_lt(auth_check_lease("ci", "python", "default", "native", err, sizeof(err)), 0);
	ck_assert_str_eq(err, "image: \"python\" is not allowed for the token \"ci\" (allowed: host)");
	ck_assert_int_lt(auth_check_lease("ci", "host", "default", "docker", err, sizeof(err)), 0);
	ck_assert_str_eq(err, "backend: \"docker\" is not allowed for the token \"ci\" (allowed: native, oci)");
	/* An unknown backend is the caller's 400, not a 403. */
	ck_assert_int_eq(auth_check_lease("ci", "host", "default", "lxc", err, sizeof(err)), 0);
	unlink(path);
	free(path);

	static const struct { const char *line, *message; } bad[] = {
		{ "colour=red", ":1: unknown restriction \"colour\" (expected policies=, images=, backends=, "
				"max_sessions= or max_execs=)" },
		{ "policies", ":1: unknown restriction \"policies\"" },
		{ "backends=native,lxc", ":1: backends: unknown backend \"lxc\" (native, oci or docker)" },
		{ "images=a,,b", ":1: images: \"\" is not a name" },
		{ "policies=../x", ":1: policies: \"../x\" is not a name" },
		{ "max_sessions=0", ":1: max_sessions: expected a whole number from 1 to 1000000, got \"0\"" },
		{ "max_execs=-3", ":1: max_execs: expected a whole number from 1 to 1000000, got \"-3\"" },
		{ "max_execs=2 max_execs=3", ":1: max_execs is given twice" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char text[256];
		snprintf(text, sizeof(text), "ci " HASH_A " %s\n", bad[i].line);
		path = write_temp(text, 0600);
		ck_assert_int_lt(auth_load(path, &e), 0);
		ck_assert_msg(strstr(e.message, bad[i].message), "%s: got \"%s\"", bad[i].line, e.message);
		unlink(path);
		free(path);
	}

	/* warrend token add checks restrictions before it writes anything. */
	char token[AUTH_TOKEN_MAX + 1];
	path = write_temp("", 0600);
	ck_assert_int_lt(auth_token_add(path, "ci", "backends=lxc", NULL, token, &e), 0);
	ck_assert_str_eq(e.message, "backends: unknown backend \"lxc\" (native, oci or docker)");
	ck_assert_int_lt(auth_token_add(path, "ci", "images=a # b", NULL, token, &e), 0);
	ck_assert_int_eq(auth_token_add(path, "ci", "images=python max_sessions=2", NULL, token, &e), 0);
	ck_assert_int_eq(auth_load(path, &e), 0);
	ck_assert_str_eq(auth_owner(token, 64), "ci");
	ck_assert_str_eq(auth_restrictions("ci")->images[0], "python");
	ck_assert_uint_eq(auth_restrictions("ci")->max_sessions, 2);
	unlink(path);
	free(path);
	auth_free();
}
END_TEST

START_TEST(authorization_header)
{
	wr_error e = { 0 };
	char token[AUTH_TOKEN_MAX + 1], header[100];
	const char *why = NULL;
	char *path = write_temp("", 0600);
	ck_assert_int_eq(auth_token_add(path, "alice", NULL, NULL, token, &e), 0);
	ck_assert_int_eq(auth_load(path, &e), 0);
	snprintf(header, sizeof(header), "Bearer %s", token);
	ck_assert_str_eq(auth_owner_of_header(header, strlen(header), &why), "alice");
	snprintf(header, sizeof(header), "bearer   %s ", token);
	ck_assert_str_eq(auth_owner_of_header(header, strlen(header), &why), "alice");
	ck_assert_ptr_null(auth_owner_of_header("Basic eDp5", 10, &why));
	ck_assert_str_eq(why, "the Authorization header must be \"Bearer TOKEN\"");
	ck_assert_ptr_null(auth_owner_of_header("Bearer nope", 11, &why));
	ck_assert_str_eq(why, "invalid token");
	ck_assert_ptr_null(auth_owner_of_header("Bearer ", 7, &why));
	unlink(path);
	free(path);
	auth_free();
}
END_TEST

START_TEST(tokens_file_errors)
{
	wr_error e = { 0 };
	char *path = write_temp("alice " HASH_A "\nbob nothex\n", 0600);
	ck_assert_int_lt(auth_load(path, &e), 0);
	ck_assert_ptr_nonnull(strstr(e.message, ":2: the hash must be 64 hex digits"));
	unlink(path);
	free(path);
	path = write_temp("alice " HASH_A "\nalice " HASH_A "\n", 0600);
	ck_assert_int_lt(auth_load(path, &e), 0);
	ck_assert_ptr_nonnull(strstr(e.message, ":2: the name \"alice\" appears twice"));
	unlink(path);
	free(path);
	/* No file: no tokens, every token is unknown. */
	ck_assert_int_eq(auth_load("/nonexistent/tokens", &e), 0);
	ck_assert_uint_eq(auth_count(), 0);
	ck_assert_ptr_null(auth_owner("secret-a", 8));
	auth_free();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults_match_the_documentation);
	tcase_add_test(tc, every_key_parses);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, keys_that_depend_on_each_other);
	tcase_add_test(tc, artifact_keys);
	tcase_add_test(tc, listen_addresses);
	tcase_add_test(tc, missing_files);
	tcase_add_test(tc, tokens_file);
	tcase_add_test(tc, tokens_file_errors);
	tcase_add_test(tc, tokens_file_permissions);
	tcase_add_test(tc, token_restrictions);
	tcase_add_test(tc, authorization_header);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
