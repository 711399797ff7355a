#include "config.h"

/* Listening sockets: unix sockets (stale ones replaced, mode and group
 * set) and TCP; or the sockets systemd passed (socket activation). Each
 * listener remembers how its requests authenticate: every TCP listener
 * wants a token (loopback too, unless tokenless_loopback), and its
 * connections pass the gate (http-gate.c) before h2o reads them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "auth.h"
#include "cleanup.h"
#include "daemon-config.h"
#include "http-internal.h"
#include "daemon.h"
#include "http.h"

#define LISTEN_BACKLOG 1024
#define MAX_LISTENERS 16

struct listener {
	h2o_socket_t *sock;
	struct sockaddr_storage sa; /* what it is bound to */
	enum http_auth_mode auth;
	enum http_listener_kind kind;
	bool unlink_on_stop;        /* a unix socket we created (not systemd's) */
};

static struct listener listeners[MAX_LISTENERS];
static size_t n_listeners;
static const struct daemon_config *config;

static void accept_connection(h2o_socket_t *listener, h2o_socket_t *sock)
{
	const struct listener *l = listener->data;
	if (l->auth == HTTP_AUTH_TOKEN)
		http_gate_accept(sock, l->kind);
	else
		h2o_accept(http_accept_ctx(), sock);
}

/* Out of file descriptors, accept() fails while the connection stays in
 * the backlog, and the level-triggered listener wakes the loop again at
 * once: a spinning core. Instead every listener stops reading and resumes
 * from a timer. Logged at most once a minute: a daemon at its limit would
 * otherwise log four lines a second. */
#define ACCEPT_BACKOFF_MS 250
#define ACCEPT_LOG_EVERY_MS 60000

static h2o_timeout_t accept_backoff;
static h2o_timeout_entry_t accept_resume_entry;
static uint64_t accept_logged_ms;
static unsigned accept_pauses;

static void on_accept(h2o_socket_t *listener, const char *err);

static void accept_resume(h2o_timeout_entry_t *entry)
{
	for (size_t i = 0; i < n_listeners; i++)
		if (listeners[i].sock)
			h2o_socket_read_start(listeners[i].sock, on_accept);
}

static void accept_pause(int err)
{
	uint64_t now = daemon_now_ms();
	accept_pauses++;
	if (!accept_logged_ms || now - accept_logged_ms >= ACCEPT_LOG_EVERY_MS) {
		daemon_log("accept: %s: new connections wait, %d ms at a time, until descriptors are free "
			   "(%u pause(s) since the last such line)", strerror(err), ACCEPT_BACKOFF_MS, accept_pauses);
		accept_logged_ms = now;
		accept_pauses = 0;
	}
	for (size_t i = 0; i < n_listeners; i++)
		if (listeners[i].sock)
			h2o_socket_read_stop(listeners[i].sock);
	if (!accept_backoff.timeout) {
		h2o_timeout_init(daemon_state->loop, &accept_backoff, ACCEPT_BACKOFF_MS);
		accept_resume_entry.cb = accept_resume;
	}
	if (!h2o_timeout_is_linked(&accept_resume_entry))
		h2o_timeout_link(daemon_state->loop, &accept_backoff, &accept_resume_entry);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	if (err)
		return;
	/* Several may be waiting; the listener is level-triggered anyway. */
	for (int i = 0; i < 16; i++) {
		h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
		if (!sock) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_pause(errno);
			return;
		}
		accept_connection(listener, sock);
	}
}

static int mkdir_parents(char *path)
{
	for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		int r = mkdir(path, 0755);
		*slash = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* A socket file left by a daemon that died is replaced; one that still
 * answers belongs to a running daemon and is left alone. */
static int remove_stale_socket(const struct sockaddr_un *sun, wr_error *e)
{
	struct stat st;
	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : wr_error_set(e, errno, "stat %s", sun->sun_path);
	if (!S_ISSOCK(st.st_mode))
		return wr_error_set(e, 0, "%s exists and is not a socket", sun->sun_path);
	_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return wr_error_set(e, errno, "socket for %s", sun->sun_path);
	if (connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		return wr_error_set(e, 0, "%s: another daemon is listening on it", sun->sun_path);
	if (errno != ECONNREFUSED)
		return wr_error_set(e, errno, "connect %s", sun->sun_path);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return wr_error_set(e, errno, "unlink stale socket %s", sun->sun_path);
	return 0;
}

static int bind_unix(const struct listen_addr *addr, const struct daemon_config *cfg, int *out, wr_error *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, addr->path);
	char parent[sizeof(sun.sun_path)];
	strcpy(parent, addr->path);
	int r = mkdir_parents(parent);
	if (r < 0)
		return wr_error_set(e, -r, "create the directory of %s", addr->path);
	if ((r = remove_stale_socket(&sun, e)) < 0)
		return r;

	/* Membership of the group is the right to use the daemon tokenless.
	 * Without the default group (not installed yet) the socket is root's. */
	gid_t gid = (gid_t)-1;
	struct group *g = getgrnam(cfg->socket_group ? cfg->socket_group : WARREND_DEFAULT_SOCKET_GROUP);
	if (g)
		gid = g->gr_gid;
	else if (cfg->socket_group)
		return wr_error_set(e, 0, "socket_group: no group named \"%s\"", cfg->socket_group);
	else
		daemon_log("no group \"%s\": %s is for root only (groupadd --system %s, or set socket_group)",
			   WARREND_DEFAULT_SOCKET_GROUP, addr->path, WARREND_DEFAULT_SOCKET_GROUP);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket for %s", addr->path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return wr_error_set(e, errno, "bind %s", addr->path);
	/* chmod/chown the path, not the fd: a socket's fd mode is not the file's. */
	if (chmod(addr->path, cfg->socket_mode) < 0 || (gid != (gid_t)-1 && chown(addr->path, -1, gid) < 0)) {
		r = wr_error_set(e, errno, "set the owner and mode of %s", addr->path);
		unlink(addr->path);
		return r;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		r = wr_error_set(e, errno, "listen %s", addr->path);
		unlink(addr->path);
		return r;
	}
	*out = TAKE_FD(fd);
	return 0;
}

static int bind_tcp(const struct listen_addr *addr, const char *text, int *out, wr_error *e)
{
	_cleanup_close_ int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket for %s", text);
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return wr_error_set(e, errno, "SO_REUSEADDR on %s", text);
	/* [::] means IPv6 only; list 0.0.0.0 as well for IPv4. */
	if (addr->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return wr_error_set(e, errno, "IPV6_V6ONLY on %s", text);
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) < 0)
		return wr_error_set(e, errno, "bind %s", text);
	if (listen(fd, LISTEN_BACKLOG) < 0)
		return wr_error_set(e, errno, "listen %s", text);
	*out = TAKE_FD(fd);
	return 0;
}

static enum http_auth_mode auth_mode_of(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_UNIX)
		return config->auth_local ? HTTP_AUTH_TOKEN : HTTP_AUTH_SOCKET;
	if (config_addr_is_loopback(sa) && config->tokenless_loopback)
		return HTTP_AUTH_LOOPBACK;
	return HTTP_AUTH_TOKEN;
}

static void add_listener(h2o_evloop_t *loop, int fd, bool unlink_on_stop, enum http_listener_kind kind)
{
	struct listener *l = &listeners[n_listeners++];
	socklen_t len = sizeof(l->sa);
	memset(&l->sa, 0, sizeof(l->sa));
	getsockname(fd, (struct sockaddr *)&l->sa, &len);
	/* E2B's API always wants a key, loopback or not */
	l->kind = kind;
	l->auth = kind == HTTP_LISTENER_E2B ? HTTP_AUTH_TOKEN : auth_mode_of(&l->sa);
	l->unlink_on_stop = unlink_on_stop;
	l->sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	l->sock->data = l;
	h2o_socket_read_start(l->sock, on_accept);
}

/* systemd socket activation: the sockets are systemd's; configured
 * listen entries are ignored. Returns how many were taken. */
static int take_activated_sockets(h2o_evloop_t *loop)
{
#ifdef HAVE_LIBSYSTEMD
	int n = sd_listen_fds(1);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n && n_listeners < MAX_LISTENERS; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		add_listener(loop, fd, false, HTTP_LISTENER_WARREN);
	}
	return n;
#else
	(void)loop;
	return 0;
#endif
}

/* e2b_listen: TCP only (config_finish checked), bound even under socket
 * activation (systemd passes warren's own listeners only). */
static int listen_e2b(h2o_evloop_t *loop, const struct daemon_config *cfg, wr_error *e)
{
	struct listen_addr addr;
	int fd = -1;
	if (!cfg->e2b_listen)
		return 0;
	if (n_listeners == MAX_LISTENERS)
		return wr_error_set(e, 0, "more than %d listeners", MAX_LISTENERS);
	if (config_parse_listen(cfg->e2b_listen, &addr, e) < 0 || bind_tcp(&addr, cfg->e2b_listen, &fd, e) < 0) {
		wr_error_prefix(e, "e2b_listen: ");
		http_stop_listening();
		return -(e->code ? e->code : EINVAL);
	}
	add_listener(loop, fd, false, HTTP_LISTENER_E2B);
	if (cfg->verbose)
		daemon_log("serving E2B's API on %s", cfg->e2b_listen);
	return 0;
}

int http_listen_all(h2o_evloop_t *loop, const struct daemon_config *cfg, wr_error *e)
{
	config = cfg;
	if (take_activated_sockets(loop) > 0) {
		daemon_log("using %zu socket(s) from systemd; listen entries ignored", n_listeners);
		return listen_e2b(loop, cfg, e);
	}
	if (cfg->n_listen > MAX_LISTENERS)
		return wr_error_set(e, 0, "more than %d listen entries", MAX_LISTENERS);
	for (size_t i = 0; i < cfg->n_listen; i++) {
		struct listen_addr addr;
		int fd = -1, r = config_parse_listen(cfg->listen[i], &addr, e);
		if (r < 0)
			;
		else if (addr.is_unix)
			r = bind_unix(&addr, cfg, &fd, e);
		else
			r = bind_tcp(&addr, cfg->listen[i], &fd, e);
		if (r < 0) {
			http_stop_listening();
			return r;
		}
		add_listener(loop, fd, addr.is_unix, HTTP_LISTENER_WARREN);
		if (cfg->verbose)
			daemon_log("listening on %s", cfg->listen[i]);
	}
	return listen_e2b(loop, cfg, e);
}

void http_stop_listening(void)
{
	/* The records stay: connections accepted earlier still need their
	 * listener's auth rule while the daemon drains. */
	for (size_t i = 0; i < n_listeners; i++) {
		struct listener *l = &listeners[i];
		if (!l->sock)
			continue;
		if (l->unlink_on_stop)
			unlink(((struct sockaddr_un *)&l->sa)->sun_path);
		h2o_socket_read_stop(l->sock);
		h2o_socket_close(l->sock);
		l->sock = NULL;
	}
}

static uint16_t port_of(const struct sockaddr_storage *sa)
{
	return ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					      : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

static bool is_wildcard(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* The connection's listener, NULL when unknown (a unix socket: *local
 * tells which family it was). */
static const struct listener *conn_listener(h2o_conn_t *conn, struct sockaddr_storage *local)
{
	memset(local, 0, sizeof(*local));
	if (conn->callbacks->get_sockname(conn, (struct sockaddr *)local) == 0 || local->ss_family == AF_UNIX)
		return NULL;
	/* The connection's local address identifies its listener: the exact
	 * address and port, or a wildcard listener on that port. */
	const struct listener *found = NULL;
	for (size_t i = 0; i < n_listeners; i++) {
		const struct listener *l = &listeners[i];
		if (l->sa.ss_family == AF_UNIX || port_of(&l->sa) != port_of(local))
			continue;
		if (same_ip(&l->sa, local))
			found = l;
		else if (!found && is_wildcard(&l->sa) && l->sa.ss_family == local->ss_family)
			found = l;
	}
	return found;
}

enum http_auth_mode http_conn_auth_mode(h2o_conn_t *conn)
{
	struct sockaddr_storage local;
	const struct listener *l = conn_listener(conn, &local);
	if (local.ss_family == AF_UNIX)
		return auth_mode_of(&local);
	/* A listener stopped while draining, or unknown: fail closed. */
	return l ? l->auth : HTTP_AUTH_TOKEN;
}

enum http_listener_kind http_conn_listener(h2o_conn_t *conn)
{
	struct sockaddr_storage local;
	const struct listener *l = conn_listener(conn, &local);
	return l ? l->kind : HTTP_LISTENER_WARREN;
}

/* The connection's own address as the text of a Host: "127.0.0.1" or
 * "::1" (IPv4-mapped addresses as IPv4). */
static bool same_ip_text(const struct sockaddr_storage *local, const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (local->ss_family == AF_INET)
		return inet_pton(AF_INET, name, &a4) == 1 &&
		       a4.s_addr == ((const struct sockaddr_in *)local)->sin_addr.s_addr;
	const struct in6_addr *mine = &((const struct sockaddr_in6 *)local)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(mine) && inet_pton(AF_INET, name, &a4) == 1)
		return memcmp(&mine->s6_addr[12], &a4, 4) == 0;
	return inet_pton(AF_INET6, name, &a6) == 1 && memcmp(&a6, mine, sizeof(a6)) == 0;
}

bool http_host_is_local(h2o_conn_t *conn, const char *host, size_t len, const char *const *names, size_t n_names)
{
	struct sockaddr_storage local;
	memset(&local, 0, sizeof(local));
	if (!host || len == 0 || len > 255 || conn->callbacks->get_sockname(conn, (struct sockaddr *)&local) == 0 ||
	    (local.ss_family != AF_INET && local.ss_family != AF_INET6))
		return false;
	char text[256], *name = text, *port = NULL;
	memcpy(text, host, len);
	text[len] = '\0';
	if (memchr(text, '\0', len))
		return false;
	if (text[0] == '[') {
		char *end = strchr(text, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		for (size_t i = 0; i < n_names; i++)
			if (strncasecmp(names[i], text, (size_t)(end - text + 1)) == 0 && names[i][end - text + 1] == '\0')
				return true;
		port = end[1] ? end + 2 : NULL;
		*end = '\0';
		name = text + 1;
	} else {
		char *colon = strrchr(text, ':');
		if (colon)
			*colon = '\0', port = colon + 1;
		for (size_t i = 0; i < n_names; i++)
			if (strcasecmp(names[i], text) == 0)
				return true;
	}
	/* The listener's own address and localhost: with its port (80 may be left out). */
	unsigned long want = port_of(&local), got = 80;
	if (port) {
		char *end;
		if (!*port || strspn(port, "0123456789") != strlen(port))
			return false;
		got = strtoul(port, &end, 10);
	}
	if (got != want)
		return false;
	return strcasecmp(name, "localhost") == 0 || same_ip_text(&local, name);
}

void http_listen_warnings(void)
{
	bool tokens_needed = false;
	for (size_t i = 0; i < n_listeners; i++) {
		char addr[INET6_ADDRSTRLEN] = "?";
		const struct listener *l = &listeners[i];
		tokens_needed |= l->auth == HTTP_AUTH_TOKEN;
		if (l->auth != HTTP_AUTH_LOOPBACK)
			continue;
		if (l->sa.ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&l->sa)->sin_addr, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&l->sa)->sin6_addr, addr, sizeof(addr));
		daemon_log("WARNING: tokenless_loopback: %s port %u serves requests without a token; every local "
			   "user shares the owner \"%s\" there (warrend(8), AUTHENTICATION)", addr,
			   (unsigned)port_of(&l->sa), AUTH_LOOPBACK_OWNER);
	}
	if (tokens_needed && auth_count() == 0)
		daemon_log("no tokens loaded: listeners that require one answer 401 to every request "
			   "(add one with: warrend token add NAME)");
}
