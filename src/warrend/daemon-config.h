/* warrend.conf: `key = value` lines, `#` comments; keys are the fields of
 * struct daemon_config. Pure parsing (no sockets), unit tested. */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>

#include "error.h"
#include "daemon.h"

#define WARREND_CONFIG_FILE "/etc/warren/warrend.conf"
#define WARREND_TOKENS_FILE "/etc/warren/tokens"
#define WARREND_DEFAULT_LISTEN "unix:/run/warren/warrend.sock"
/* The unix socket's group when socket_group is not set (and exists). */
#define WARREND_DEFAULT_SOCKET_GROUP "warren"

/* Fills cfg with the built-in defaults (no listen entry yet: the default
 * socket is added by config_finish when neither file nor flags named one). */
void config_defaults(struct daemon_config *cfg);
/* Releases everything the config owns (safe on a defaulted config). */
void config_free(struct daemon_config *cfg);

/* Sets one key from its text value, as a config line or a flag does;
 * "listen" appends. Errors name the key and the value. */
int config_set(struct daemon_config *cfg, const char *key, const char *value, wr_error *e);
/* Parses a whole file's text; errors are "NAME:LINE: …". */
int config_parse_text(struct daemon_config *cfg, const char *name, const char *text, wr_error *e);
/* Reads and parses `path`. A missing file is an error only when
 * must_exist (an explicit --config); otherwise it leaves cfg as it was. */
int config_parse_file(struct daemon_config *cfg, const char *path, bool must_exist, wr_error *e);
/* Drops every listen entry (command-line --listen replaces the file's). */
void config_clear_listen(struct daemon_config *cfg);
/* Adds the default listener when none was configured; checks the keys
 * that depend on each other. */
int config_finish(struct daemon_config *cfg, wr_error *e);

/* One listener address, parsed from "unix:/path", "1.2.3.4:80", "[::1]:80"
 * or "localhost:80". */
struct listen_addr {
	bool is_unix;
	char path[108];                /* sun_path when is_unix */
	struct sockaddr_storage sa;    /* the TCP address otherwise */
	socklen_t salen;
	bool loopback;                 /* TCP bound to 127.0.0.0/8 or ::1 */
};
int config_parse_listen(const char *text, struct listen_addr *out, wr_error *e);
/* 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address. */
bool config_addr_is_loopback(const struct sockaddr_storage *sa);
