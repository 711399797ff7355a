#include "config.h"

/* warrend: configuration, the h2o event loop, signals and the lifecycle
 * (ready -> serving -> draining -> exit). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "artifacts.h"
#include "auth.h"
#include "backends.h"
#include "cgroup.h"
#include "cleanup.h"
#include "daemon-config.h"
#include "daemon.h"
#include "e2b.h"
#include "http-internal.h"
#include "mcp.h"
#include "metrics.h"
#include "routes.h"
#include "session.h"
#include "spawner.h"
#include "stop.h"

#define DRAIN_POLL_MS 50
#define DRAIN_CAP_MS 10000

static bool exit_requested;
static int exit_status;
static int signal_fd = -1;
static h2o_socket_t *signal_sock;
static h2o_timeout_t drain_timeout;
static h2o_timeout_entry_t drain_entry;
static uint64_t drain_started_ms;
static bool waiting_drain;  /* SIGUSR1: for every session to end */

static void notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* ---- drain (SIGTERM, SIGINT) and reload (SIGHUP) ------------------------- */

static void drain_poll(h2o_timeout_entry_t *entry)
{
	if (sessions_drained()) {
		daemon_log("drained, exiting");
		exit_requested = true;
		return;
	}
	if (daemon_now_ms() - drain_started_ms >= DRAIN_CAP_MS) {
		daemon_log("sessions still being cleaned up after %d s; exiting anyway", DRAIN_CAP_MS / 1000);
		exit_status = 1;
		exit_requested = true;
		return;
	}
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

static void start_drain(int signo)
{
	if (waiting_drain && signo != SIGUSR1) {
		/* SIGTERM while waiting: the drain now */
		waiting_drain = false;
		h2o_timeout_unlink(&drain_entry);
		daemon_state->draining = false;
	}
	waiting_drain = false;
	if (daemon_state->draining) {
		daemon_log("already draining (%s ignored)", strsignal(signo));
		return;
	}
	daemon_log("%s: draining", strsignal(signo));
	notify("STOPPING=1");
	daemon_state->draining = true;
	drain_started_ms = daemon_now_ms();
	http_stop_listening();
	http_shutdown();
	sessions_drain();
	drain_entry.cb = drain_poll;
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

/* SIGUSR2 (a restart: systemctl restart, warrend --stop under a
 * restart job): requests' execs end with an answer saying why, the
 * sandboxes of sessions, their processes and records stay for the next
 * warrend (warrend(8) RESTARTS). */
static void leave_poll(h2o_timeout_entry_t *entry)
{
	if (sessions_left() || daemon_now_ms() - drain_started_ms >= DRAIN_CAP_MS) {
		daemon_log("exiting; the sessions stay for the next warrend");
		exit_requested = true;
		return;
	}
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

/* What every way of stopping starts with; false when one is under way. */
static bool begin_stopping(const char *signal_name, void (*poll)(h2o_timeout_entry_t *))
{
	if (daemon_state->draining) {
		daemon_log("already stopping (%s ignored)", signal_name);
		return false;
	}
	notify("STOPPING=1");
	daemon_state->draining = true;
	drain_started_ms = daemon_now_ms();
	drain_entry.cb = poll;
	return true;
}

static void start_leave(void)
{
	if (!begin_stopping("SIGUSR2", leave_poll))
		return;
	daemon_log("SIGUSR2: exiting for a restart: sessions and their processes stay");
	http_stop_listening();
	sessions_leave("warrend is restarting: the command was killed (processes started with POST "
		       "/v1/sessions/{id}/processes outlive restarts)");
	http_shutdown();
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

/* SIGUSR1 (warrend --drain): no new sessions; once the last one ended
 * (deleted, expired), a drain as SIGTERM's. */
static void wait_poll(h2o_timeout_entry_t *entry)
{
	if (!waiting_drain)
		return; /* a SIGTERM took over */
	if (sessions_all_ended()) {
		daemon_log("every session has ended");
		daemon_state->draining = false;
		start_drain(SIGUSR1);
		return;
	}
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

static void start_wait_drain(void)
{
	if (!begin_stopping("SIGUSR1", wait_poll))
		return;
	daemon_log("SIGUSR1: no new sessions; exiting once every session has ended");
	waiting_drain = true;
	h2o_timeout_link(daemon_state->loop, &drain_timeout, &drain_entry);
}

static void reload(void)
{
	wr_error e = { 0 };
	if (auth_reload(&e) < 0)
		daemon_log("SIGHUP: tokens not reloaded, keeping the previous ones: %s", e.message);
	else
		daemon_log("SIGHUP: %zu token(s) loaded", auth_count());
	sessions_reload_policies();
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
	struct signalfd_siginfo info;
	while (read(signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGHUP)
			reload();
		else if (info.ssi_signo == SIGUSR2)
			start_leave();
		else if (info.ssi_signo == SIGUSR1)
			start_wait_drain();
		else
			start_drain((int)info.ssi_signo);
	}
}

/* Signals arrive through a signalfd on the event loop, so handlers may do
 * anything the loop does. Children must unblock them before exec. */
static int setup_signals(h2o_evloop_t *loop)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	signal_sock = h2o_evloop_socket_create(loop, signal_fd, H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(signal_sock, on_signal);
	h2o_timeout_init(loop, &drain_timeout, DRAIN_POLL_MS);
	return 0;
}

/* ---- command line -------------------------------------------------------- */

static void usage(FILE *out)
{
	fputs("Usage: warrend [OPTION]...\n"
	      "       warrend token add NAME [RESTRICTION]... [--tokens FILE | --config FILE]\n"
	      "The warren session daemon: a pool of warm sandboxes behind an HTTP API.\n\n"
	      "  -c, --config FILE        configuration file (default " WARREND_CONFIG_FILE ")\n"
	      "  -l, --listen ADDR        unix:/PATH, IPV4:PORT or [IPV6]:PORT (repeatable;\n"
	      "                           replaces the file's listen entries)\n"
	      "      --state-dir DIR      runtime state (default /run/warren)\n"
	      "      --tokens FILE        bearer tokens file (default " WARREND_TOKENS_FILE ")\n"
	      "      --pool-size N        idle sandboxes kept per pool (default 8)\n"
	      "      --max-sessions N     sessions alive at once (default 1000)\n"
	      "      --policy-dir DIR     where NAME.json policies live\n"
	      "      --image-dir DIR      where named images live\n"
	      "      --backend NAME       native (default), oci or docker: what runs sandboxes\n"
	      "      --backend-fallback NAME  used when the backend is unhealthy at start\n"
	      "      --e2b-listen ADDR    also serve E2B's API (its SDKs) on IPV4:PORT or [IPV6]:PORT\n"
	      "      --drain              tell the running warrend (of this state directory) to\n"
	      "                           take no new sessions and exit once every session ended;\n"
	      "                           waits for it to exit\n"
	      "      --stop PID           systemd's ExecStop: stop warrend PID, keeping its sessions\n"
	      "                           when systemd restarts the unit, ending them otherwise\n"
	      "  -v, --verbose            more log lines: commands' ends (twice: their starts)\n"
	      "  -V, --version            print the version and exit\n"
	      "  -h, --help               print this help and exit\n\n"
	      "See warrend(8) and warrend.conf(5).\n",
	      out);
}

enum { OPT_STATE_DIR = 256, OPT_TOKENS, OPT_POOL_SIZE, OPT_MAX_SESSIONS, OPT_POLICY_DIR, OPT_IMAGE_DIR,
       OPT_BACKEND, OPT_BACKEND_FALLBACK, OPT_E2B_LISTEN, OPT_DRAIN, OPT_STOP };

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "tokens", required_argument, NULL, OPT_TOKENS },
	{ "pool-size", required_argument, NULL, OPT_POOL_SIZE },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "policy-dir", required_argument, NULL, OPT_POLICY_DIR },
	{ "image-dir", required_argument, NULL, OPT_IMAGE_DIR },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "backend-fallback", required_argument, NULL, OPT_BACKEND_FALLBACK },
	{ "e2b-listen", required_argument, NULL, OPT_E2B_LISTEN },
	{ "drain", no_argument, NULL, OPT_DRAIN },
	{ "stop", required_argument, NULL, OPT_STOP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The config key each value-taking flag sets. */
static const char *flag_key(int opt)
{
	switch (opt) {
	case 'l': return "listen";
	case OPT_STATE_DIR: return "state_dir";
	case OPT_TOKENS: return "tokens_file";
	case OPT_POOL_SIZE: return "pool_size";
	case OPT_MAX_SESSIONS: return "max_sessions";
	case OPT_POLICY_DIR: return "policy_dir";
	case OPT_IMAGE_DIR: return "image_dir";
	case OPT_BACKEND: return "backend";
	case OPT_BACKEND_FALLBACK: return "backend_fallback";
	case OPT_E2B_LISTEN: return "e2b_listen";
	default: return NULL;
	}
}

static const char *flag_name(int opt)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* --drain and --stop: warrend as a client of the running one (stop.c). */
static const char *control_command, *control_pid;

/* Reads the config file, then applies the flags over it. Returns -1 on
 * error (printed), 1 when the program should exit 0 (--help, --version). */
static int load_config(int argc, char **argv, struct daemon_config *cfg)
{
	struct { int opt; const char *value; } flags[64];
	size_t n_flags = 0;
	const char *config_path = NULL;
	int verbose = 0, opt;

	while ((opt = getopt_long(argc, argv, "c:l:vVh", long_options, NULL)) != -1) {
		if (opt == 'h')
			return usage(stdout), 1;
		if (opt == 'V')
			return printf("warrend %s\n", PACKAGE_VERSION), 1;
		if (opt == OPT_DRAIN)
			control_command = "drain";
		else if (opt == OPT_STOP)
			control_command = "stop", control_pid = optarg;
		else if (opt == 'v')
			verbose++;
		else if (opt == 'c')
			config_path = optarg;
		else if (flag_key(opt) && n_flags < ARRAY_SIZE(flags))
			flags[n_flags++] = (typeof(flags[0])){ opt, optarg };
		else {
			if (flag_key(opt))
				fprintf(stderr, "warrend: too many options\n");
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "warrend: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}

	wr_error e = { 0 };
	config_defaults(cfg);
	if (config_parse_file(cfg, config_path ? config_path : WARREND_CONFIG_FILE, config_path != NULL, &e) < 0)
		goto fail;
	bool listen_replaced = false;
	for (size_t i = 0; i < n_flags; i++) {
		if (flags[i].opt == 'l' && !listen_replaced) {
			config_clear_listen(cfg);
			listen_replaced = true;
		}
		if (config_set(cfg, flag_key(flags[i].opt), flags[i].value, &e) < 0) {
			wr_error_prefix(&e, "--%s: ", flag_name(flags[i].opt));
			goto fail;
		}
	}
	if (verbose > cfg->verbose)
		cfg->verbose = verbose;
	if (config_finish(cfg, &e) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "warrend: %s\n", e.message);
	return -1;
}

static const char token_usage[] =
	"Usage: warrend token add NAME [--policies P,...] [--images I,...] [--backends B,...]\n"
	"                              [--max-sessions N] [--max-execs N] [--e2b]\n"
	"                              [--tokens FILE | --config FILE]\n"
	"  --e2b  a token of the shape E2B's SDKs accept as an API key (e2b_ and hex digits)\n";

/* Takes the restriction options (--policies a,b or --policies=a,b) out of
 * argv into "policies=a,b ..." text; the rest stays for load_config. */
static int take_restrictions(int *argc, char **argv, char *out, size_t len)
{
	static const char *const options[] = { "policies", "images", "backends", "max-sessions", "max-execs" };
	int kept = 1;
	out[0] = '\0';
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *value = NULL;
		size_t k = ARRAY_SIZE(options);
		for (size_t j = 0; j < ARRAY_SIZE(options) && k == ARRAY_SIZE(options); j++) {
			size_t n = strlen(options[j]);
			if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, options[j], n) == 0 &&
			    (a[2 + n] == '\0' || a[2 + n] == '='))
				k = j, value = a[2 + n] == '=' ? a + 3 + n : NULL;
		}
		if (k == ARRAY_SIZE(options)) {
			argv[kept++] = argv[i];
			continue;
		}
		if (!value && (++i >= *argc || strncmp(argv[i], "--", 2) == 0)) {
			fprintf(stderr, "warrend: --%s needs a value\n", options[k]);
			return -1;
		}
		char key[32];
		snprintf(key, sizeof(key), "%s", options[k]);
		for (char *c = key; *c; c++)
			if (*c == '-')
				*c = '_'; /* --max-sessions is the file's max_sessions */
		size_t used = strlen(out);
		if ((size_t)snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", key, value ? value : argv[i]) >=
		    len - used) {
			fprintf(stderr, "warrend: restrictions too long\n");
			return -1;
		}
	}
	*argc = kept;
	return 0;
}

/* warrend token add NAME: prints a fresh token once, stores only its hash. */
static int token_command(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "add") != 0 || argv[2][0] == '-') {
		fputs(token_usage, stderr);
		return 2;
	}
	const char *name = argv[2];
	char restrictions[2048];
	argc -= 2, argv += 2;
	/* --e2b: the token is "e2b_" and hex, as E2B's Python SDK insists */
	bool e2b = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--e2b")) {
			e2b = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
			argc--, i--;
		}
	if (take_restrictions(&argc, argv, restrictions, sizeof(restrictions)) < 0) {
		fputs(token_usage, stderr);
		return 2;
	}
	struct daemon_config cfg;
	/* The remaining options choose the file the same way the daemon does. */
	int r = load_config(argc, argv, &cfg);
	if (r != 0)
		return r < 0 ? 2 : 0;
	char token[AUTH_TOKEN_MAX + 1];
	wr_error e = { 0 };
	if (auth_token_add(cfg.tokens_file, name, restrictions, e2b ? AUTH_E2B_PREFIX : "", token, &e) < 0) {
		fprintf(stderr, "warrend: %s\n", e.message);
		config_free(&cfg);
		return 1;
	}
	printf("%s\n", token);
	fprintf(stderr, "warrend: added token \"%s\" to %s; it is shown only now. "
			"Send SIGHUP to a running warrend to load it.\n", name, cfg.tokens_file);
	config_free(&cfg);
	return 0;
}

/* ---- start-up -------------------------------------------------------------- */

static const char *detect_cgroup_mode(void)
{
	enum cgroup_mode mode;
	wr_error e = { 0 };
	if (cgroup_detect(&mode, &e) < 0) {
		daemon_log("no usable cgroup layout: %s", e.message);
		return "none";
	}
	return mode == CGROUP_V2 ? "v2" : "v1";
}

/* Two fds per sandbox (its socket, our loop's copy), three per running
 * exec and one per connection: the soft default of 1024 would cap them
 * early. Raised first, before any listener, backend or child exists, so
 * all of them see the same limit. */
static void raise_fd_limit(void)
{
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
}

int main(int argc, char **argv)
{
	spawn_use_egress(&spawn_egress_netlink); /* egress sandboxes are spawned here (sandbox.c) */
	int spawner_status = spawner_main_if_asked(argc, argv); /* warrend's own helper (spawner.h) */
	if (spawner_status >= 0)
		return spawner_status;
	raise_fd_limit();
	if (argc >= 2 && strcmp(argv[1], "token") == 0)
		return token_command(argc - 1, argv + 1);

	struct daemon *d = daemon_state;
	int r = load_config(argc, argv, &d->cfg);
	if (r != 0)
		return r < 0 ? 2 : 0;
	if (control_command)
		return !strcmp(control_command, "drain") ? warrend_drain(d->cfg.state_dir) : warrend_stop(control_pid);
	d->started_ms = daemon_now_ms();
	daemon_log_setup();

	wr_error e = { 0 };
	/* Before any token, listener or client: sandboxes are cloned from it. */
	if (spawner_start(d->cfg.state_dir, d->cfg.verbose, &e) < 0) {
		daemon_log("%s", e.message);
		return 1;
	}
	atexit(spawner_stop);
	if (auth_load(d->cfg.tokens_file, &e) < 0) {
		daemon_log("%s", e.message);
		return 1;
	}
	d->cgroup_mode = detect_cgroup_mode();
	d->loop = h2o_evloop_create();
	if ((r = setup_signals(d->loop)) < 0) {
		daemon_log("signal set-up: %s", strerror(-r));
		return 1;
	}

	/* First match wins: the fixed admin paths, then files before the
	 * shorter session paths they extend, then the compatibility routes. */
	http_add_routes(admin_routes);
	http_add_routes(image_routes);
	http_add_routes(v1_file_routes);
	http_add_routes(v1_session_routes);
	http_add_routes(v1_process_routes);
	http_add_routes(v1_run_routes);
	http_add_routes(v1_artifact_routes);
	http_add_presigned_routes(v1_artifact_download_routes);
	http_add_routes(compat_routes);
	http_add_routes(mcp_routes);
	if (d->cfg.e2b_listen)
		e2b_init(); /* its own listener: its own routing (api/e2b) */
	metrics_init();
	sessions_on_tick(http_tick);

	if (http_start(d->loop, &d->cfg, &e) < 0) {
		daemon_log("%s", e.message);
		return 1;
	}
	struct wd_error werr = { 0 };
	if (sessions_init(&werr) < 0 || artifacts_init(&werr) < 0) {
		daemon_log("%s", werr.cause.message);
		http_stop_listening();
		backends_fini();
		return 1;
	}
	/* the front ends' own state, from the notes of the sessions taken back */
	mcp_sessions_restore();
	if (d->cfg.e2b_listen)
		e2b_sandboxes_restore();
	http_listen_warnings();
	daemon_log("ready (%zu listener(s), %zu token(s), cgroup %s)", d->cfg.n_listen, auth_count(),
		   d->cgroup_mode);
	notify("READY=1");

	while (!exit_requested)
		h2o_evloop_run(d->loop, INT32_MAX);

	http_stop_listening();
	backends_fini();
	if (signal_sock)
		h2o_socket_close(signal_sock); /* closes the signalfd too */
	auth_free();
	config_free(&d->cfg);
	return exit_status;
}
