#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"
#include "image.h"
#include "policy.h"
#include "sandbox.h"
#include "spawn.h"
#include "socket-family.h"
#include "template.h"
#include "units.h"
#include "userns.h"
#include "cleanup.h"

static void run_usage(FILE *out)
{
	fputs("Usage: warren run [OPTION...] [--] COMMAND [ARG...]\n"
	      "\n"
	      "Run COMMAND in a new sandbox and exit with its status.\n"
	      "\n"
	      "  -p, --policy NAME|FILE   policy to apply (default: the built-in default)\n"
	      "  -t, --tty                give the command a terminal of the sandbox's, relayed to ours\n"
	      "  -i, --interactive        with -t: send our standard input to that terminal (and make\n"
	      "                           ours raw while the command runs); without -t the command\n"
	      "                           reads our standard input itself, as it always does\n"
	      "      --image host|NAME|DIR  root filesystem: the host's /usr (default), an image built\n"
	      "                           by warren-rootfs (in $WARREN_IMAGE_DIR or " WARREN_IMAGEDIR "),\n"
	      "                           or a directory (a value with a '/')\n"
	      "  -w, --workspace DIR      bind host DIR as /workspace (default: a private tmpfs)\n"
	      "  -m, --memory SIZE        memory limit, e.g. 64M (at most the policy's)\n"
	      "      --pids N             process limit (at most the policy's)\n"
	      "      --cpus N             CPU limit, e.g. 0.5 (at most the policy's)\n"
	      "      --timeout DURATION   wall-clock limit, e.g. 5s, 2m (at most the policy's)\n"
	      "      --workspace-size SIZE  size of the tmpfs /workspace\n"
	      "      --tmp-size SIZE      size of /tmp\n"
	      "      --net none|egress|host  network: none (loopback only), egress (the allowlist of the\n"
	      "                           policy, or of --allow, through warren's own link and rules), or\n"
	      "                           host (the host's whole network: see warren(1)); at most the policy's\n"
	      "      --allow DEST         egress only to DEST (repeatable; implies --net egress): an address or\n"
	      "                           network with an optional port, or a domain name, *.wildcard too;\n"
	      "                           each within the policy's allowlist\n"
	      "      --socket-families LIST  only these socket families, e.g. unix,inet (among the policy's)\n"
	      "  -e, --env KEY[=VALUE]    set an environment variable (repeatable); KEY alone passes\n"
	      "                           our own value of KEY (none if we have none)\n"
	      "  -C, --cwd DIR            working directory inside the sandbox (default /workspace)\n"
	      "      --hostname NAME      hostname inside the sandbox (default: the policy's, \"sandbox\")\n"
	      "      --hide PATH          hide PATH in the sandbox, besides the policy's \"hide\" (repeatable)\n"
	      "      --collect PATH       after the command, copy the files PATH names (a file, a directory,\n"
	      "                           or a glob; in /workspace, or /tmp/...) out of the sandbox into\n"
	      "                           --output-dir (repeatable); never through a symbolic link\n"
	      "      --output-dir DIR     the host directory --collect writes to (made if missing)\n"
	      "  -v, --verbose            say what is set up (twice: also the mounts and the seccomp filter)\n"
	      "  -h, --help               show this help\n"
	      "\n"
	      "Exit status: the command's; 128+N if it was killed by signal N (137 also for an out-of-memory\n"
	      "kill); 124 on timeout; 125 if warren failed; 126 if COMMAND could not run; 127 if not found.\n"
	      "See warren(1).\n", out);
}

enum {
	OPT_PIDS = 0x100, OPT_CPUS, OPT_IMAGE, OPT_TIMEOUT, OPT_WORKSPACE_SIZE, OPT_TMP_SIZE, OPT_NET, OPT_HOSTNAME, OPT_SOCKET_FAMILIES, OPT_HIDE,
	OPT_ALLOW, OPT_COLLECT, OPT_OUTPUT_DIR,
};

static const struct option run_options[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "tty", no_argument, NULL, 't' },
	{ "interactive", no_argument, NULL, 'i' },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "workspace", required_argument, NULL, 'w' },
	{ "memory", required_argument, NULL, 'm' },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "workspace-size", required_argument, NULL, OPT_WORKSPACE_SIZE },
	{ "tmp-size", required_argument, NULL, OPT_TMP_SIZE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "socket-families", required_argument, NULL, OPT_SOCKET_FAMILIES },
	{ "env", required_argument, NULL, 'e' },
	{ "cwd", required_argument, NULL, 'C' },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "hide", required_argument, NULL, OPT_HIDE },
	{ "collect", required_argument, NULL, OPT_COLLECT },
	{ "output-dir", required_argument, NULL, OPT_OUTPUT_DIR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct policy_limit_names flag_names = {
	.memory = "--memory", .pids = "--pids", .cpus = "--cpus", .timeout = "--timeout",
	.workspace = "--workspace-size", .tmp = "--tmp-size", .output = "--output",
};

static bool parse_size_flag(const char *flag, const char *value, uint64_t *out)
{
	if (parse_size(value, out) < 0 || *out == 0) {
		cli_error("%s: expected a size like 64M, got '%s'", flag, value);
		return false;
	}
	return true;
}

/* "unix,inet" (or "" for none) into a socket_family_set. */
static bool parse_families_flag(const char *value, uint64_t *out)
{
	*out = 0;
	for (const char *c = value; *c;) {
		size_t len = strcspn(c, ",");
		char name[32];
		int k = -1;
		if (len > 0 && len < sizeof name) {
			memcpy(name, c, len);
			name[len] = '\0';
			k = socket_family_index(name);
		}
		if (k < 0) {
			cli_error("--socket-families: '%.*s' is not a socket family (e.g. unix, inet, inet6, "
				  "netlink_route; see warren-policy(5))", (int)len, c);
			return false;
		}
		*out |= 1ULL << k;
		c += len + (c[len] == ',');
	}
	return true;
}

static bool valid_hostname(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 64 || name[0] == '-' || name[0] == '.')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '.'))
			return false;
	return true;
}

/* --image: "host", a directory (any value with a '/'), or an image name
 * looked up in $WARREN_IMAGE_DIR (default WARREN_IMAGEDIR). Returns the
 * value for sandbox_spec.image (malloc'd), or NULL after saying why. */
static char *resolve_image(const char *value)
{
	if (!strcmp(value, IMAGE_HOST) || strchr(value, '/'))
		return strdup(value);
	const char *dir = getenv("WARREN_IMAGE_DIR");
	if (!dir || !*dir)
		dir = WARREN_IMAGEDIR;
	char *path = image_path(dir, value);
	if (!path) {
		_cleanup_free_ char *names = image_names_text(dir);
		cli_error("unknown image \"%s\" (available: %s); build it with warren-rootfs(1)", value,
			  names ? names : IMAGE_HOST);
	}
	return path;
}

/* A policy with an "images" list allows those names only (no directory). */
static bool policy_allows_image(const struct policy *p, const char *image)
{
	if (!p->images)
		return true;
	const char *name = image ? image : IMAGE_HOST;
	for (size_t i = 0; i < p->n_images; i++)
		if (!strcmp(p->images[i], name))
			return true;
	cli_error("policy %s does not allow image \"%s\" (its \"images\" list names the allowed ones)",
		  p->name, name);
	return false;
}

/* What --collect copied (with -v) and, always, what it left out and why. */
static void report_collected(const struct sandbox_result *res, const char *dir, int verbose_level)
{
	size_t i;
	json_t *f;
	if (!res->collected) {
		if (res->collect_error[0])
			cli_error("--collect: %s", res->collect_error);
		return;
	}
	json_array_foreach(json_object_get(res->collected, "collected"), i, f)
		if (verbose_level > 0)
			cli_error("collected %s into %s/%s (%lld bytes)", json_string_value(json_object_get(f, "path")), dir,
				  json_string_value(json_object_get(f, "name")),
				  (long long)json_integer_value(json_object_get(f, "size")));
	json_array_foreach(json_object_get(res->collected, "not_collected"), i, f)
		cli_error("not collected: %s: %s", json_string_value(json_object_get(f, "path")),
			  json_string_value(json_object_get(f, "reason")));
	json_t *more = json_object_get(res->collected, "not_collected_more");
	if (more)
		cli_error("not collected: %lld more", (long long)json_integer_value(more));
}

/* --output-dir, made if missing; the caller's own path, so a link in it
 * is the caller's choice: below it, collect_sink_dir follows none. */
static int open_output_dir(const char *dir)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mkdir(dir, 0755) == 0)
		fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		cli_error("--output-dir %s: %s", dir, strerror(errno));
	return fd;
}

static void report_end(const struct sandbox_result *res, const struct policy *p, int verbose_level)
{
	char buf[32];
	if (res->timed_out) {
		format_duration(p->limits.timeout_ms, buf, sizeof buf);
		cli_error("killed: timeout after %s", buf);
	} else if (res->oom_killed) {
		format_size(p->limits.memory, buf, sizeof buf);
		cli_error("killed: out of memory (limit %s)", buf);
	}
	if (verbose_level > 0) {
		format_size(res->memory_peak, buf, sizeof buf);
		if (res->exited)
			cli_error("exited with %d after %llu ms, memory peak %s", res->exit_code,
				  (unsigned long long)res->duration_ms, buf);
		else if (res->signal)
			cli_error("killed by signal %d after %llu ms, memory peak %s", res->signal,
				  (unsigned long long)res->duration_ms, buf);
	}
}

int cmd_run(int argc, char **argv)
{
	/* Before any goto: the cleanup runs on every exit from here. */
	_cleanup_policy_ struct policy *p = NULL;
	const char *policy_name = NULL, *net = NULL, *hostname = NULL;
	bool restrict_families = false;
	uint64_t families = 0;
	struct sandbox_spec spec = { 0 };
	struct policy_limits req = { 0 };
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof *env);
	_cleanup_strv_ char **env_owned = calloc((size_t)argc + 1, sizeof *env_owned); /* KEY=our value */
	size_t n_env_owned = 0;
	_cleanup_free_ const char **hide = calloc((size_t)argc + 1, sizeof *hide);
	size_t n_hide = 0;
	_cleanup_free_ char **allow = calloc((size_t)argc + 1, sizeof *allow);
	size_t n_allow = 0;
	_cleanup_free_ struct collect_pattern *collect = calloc((size_t)argc + 1, sizeof *collect);
	const char *output_dir = NULL;
	_cleanup_close_ int output_fd = -1;
	_cleanup_free_ char *image = NULL;
	const char *image_arg = NULL;   /* as given: a name, host, or a directory */
	size_t n_env = 0;
	int opt;

	if (!env || !env_owned || !hide || !allow || !collect)
		return WARREN_EXIT_SETUP;
	optind = 1;
	argv[0] = "warren run"; /* getopt names it in its messages */
	/* '+': options end at the command, so `warren run ls -l` works too. */
	while ((opt = getopt_long(argc, argv, "+p:itw:m:e:C:vh", run_options, NULL)) != -1) {
		switch (opt) {
		case 'p': policy_name = optarg; break;
		case 't': spec.tty = true; break;
		case 'i': spec.interactive = true; break;
		case OPT_IMAGE: spec.image = image_arg = optarg; break;
		case 'w': spec.workspace_dir = optarg; break;
		case 'm': if (!parse_size_flag("--memory", optarg, &req.memory)) goto usage; break;
		case OPT_WORKSPACE_SIZE:
			if (!parse_size_flag("--workspace-size", optarg, &req.workspace)) goto usage;
			break;
		case OPT_TMP_SIZE: if (!parse_size_flag("--tmp-size", optarg, &req.tmp)) goto usage; break;
		case OPT_PIDS: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || optarg[0] == '-') {
				cli_error("--pids: expected a positive number, got '%s'", optarg);
				goto usage;
			}
			req.pids = v;
			break;
		}
		case OPT_CPUS:
			if (parse_cpus(optarg, &req.cpu_millis) < 0) {
				cli_error("--cpus: expected a number of CPUs like 0.5 or 2, got '%s'", optarg);
				goto usage;
			}
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &req.timeout_ms) < 0 || req.timeout_ms == 0) {
				cli_error("--timeout: expected a duration like 5s, 250ms or 2m, got '%s'", optarg);
				goto usage;
			}
			break;
		case OPT_NET:
			if (strcmp(optarg, "none") && strcmp(optarg, "egress") && strcmp(optarg, "host")) {
				cli_error("--net: expected 'none', 'egress' or 'host', got '%s'", optarg);
				goto usage;
			}
			net = optarg;
			break;
		case OPT_ALLOW: allow[n_allow++] = optarg; break; /* checked against the policy's */
		case OPT_SOCKET_FAMILIES:
			if (!parse_families_flag(optarg, &families))
				goto usage;
			restrict_families = true;
			break;
		case 'e': {
			_cleanup_free_ char *key = NULL;
			const char *value;
			int got = cli_env_arg("--env", optarg, &key, &value);
			if (got < 0)
				goto usage;
			if (got > 0 && strchr(optarg, '='))
				env[n_env++] = optarg;
			else if (got > 0 && asprintf(&env_owned[n_env_owned], "%s=%s", key, value) >= 0)
				env[n_env++] = env_owned[n_env_owned++];
			break;
		}
		case 'C':
			if (optarg[0] != '/') {
				cli_error("--cwd: expected an absolute path inside the sandbox, got '%s'", optarg);
				goto usage;
			}
			spec.cwd = optarg;
			break;
		case OPT_HOSTNAME:
			if (!valid_hostname(optarg)) {
				cli_error("--hostname: '%s' is not a valid hostname", optarg);
				goto usage;
			}
			hostname = optarg;
			break;
		case OPT_HIDE: hide[n_hide++] = optarg; break; /* checked with the policy's */
		case OPT_COLLECT: {
			wr_error ce = { 0 };
			if (collect_pattern_parse(optarg, strlen(optarg), &collect[spec.n_collect], &ce) < 0) {
				cli_error("--collect: %s", ce.message);
				goto usage;
			}
			spec.n_collect++;
			break;
		}
		case OPT_OUTPUT_DIR: output_dir = optarg; break;
		case 'v': spec.verbose++; break;
		case 'h': run_usage(stdout); return 0;
		default: goto usage;
		}
	}
	if (optind >= argc) {
		cli_error("run: no command given (usage: warren run [OPTION...] -- COMMAND [ARG...])");
		goto usage;
	}
	spec.argv = argv + optind;
	spec.extra_env = env;
	if (n_allow && net && strcmp(net, "egress")) {
		cli_error("--allow is for --net egress, not --net %s", net);
		goto usage;
	}
	if (n_allow)
		net = "egress";
	if (!spec.n_collect != !output_dir) {
		cli_error(output_dir ? "--output-dir is where --collect writes: give both" :
				       "--collect needs --output-dir DIR, the host directory the files go to");
		goto usage;
	}
	if (spec.n_collect && spec.tty) {
		cli_error("--collect does not work with --tty yet");
		goto usage;
	}
	spec.collect = collect;
	if (spec.image && !(spec.image = image = resolve_image(spec.image))) {
		return WARREN_EXIT_SETUP;
	}

	wr_error e = { 0 };
	enum net_mode mode = !net ? NET_NONE : !strcmp(net, "host") ? NET_HOST : !strcmp(net, "egress") ? NET_EGRESS : NET_NONE;
	int failed = uid_layout_from_env(&e) < 0 || policy_load(policy_name, &p, &e) < 0 ||
		     policy_tighten(p, &req, &flag_names, &e) < 0 || (net && policy_set_network(p, mode, &e) < 0) ||
		     (n_allow && policy_narrow_allow(p, allow, n_allow, NULL, &e) < 0) ||
		     (restrict_families && policy_restrict_socket_families(p, families, &e) < 0);
	for (size_t i = 0; !failed && i < n_hide; i++) /* a request only adds to the policy's */
		failed = policy_hide_add(p, hide[i], &e) < 0;
	if (failed) {
		cli_error("%s", e.message);
		return WARREN_EXIT_SETUP;
	}
	if (!policy_allows_image(p, image_arg)) {
		return WARREN_EXIT_SETUP;
	}
	if (hostname) {
		char *h = strdup(hostname);
		if (!h) {
			return WARREN_EXIT_SETUP;
		}
		free(p->hostname);
		p->hostname = h;
	}
	spec.policy = p;
	if (spec.verbose)
		cli_error("policy %s (%s)", p->name, p->origin);
	if (p->network == NET_HOST && geteuid() != 0) {
		cli_error("--net host is for root only (policy %s): use --net egress or none", p->name);
		return WARREN_EXIT_SETUP;
	}
	if (p->network == NET_HOST)
		cli_error("warning: the host's network: the sandbox reaches every service of the host, warrend's "
			  "listeners included, and all the host can reach (--net egress takes an allowlist)");

	if (output_dir && (spec.output_fd = output_fd = open_output_dir(output_dir)) < 0)
		return WARREN_EXIT_SETUP;
	/* As root the root's shared part comes from a template kept across
	 * runs (template.h); without one the sandbox builds all of it. */
	struct template_store *templates = NULL;
	wr_error te = { 0 };
	if (geteuid() == 0 && template_store_open_shared(TEMPLATE_STATE_DIR, &templates, &te) < 0 && spec.verbose)
		cli_error("templates: %s; the sandbox builds its whole root", te.message);
	spec.templates = templates;

	struct sandbox_result res;
	spawn_use_egress(&spawn_egress_netlink);
	int r = sandbox_run(&spec, &res, &e);
	template_store_close(templates);
	if (r < 0)
		cli_error("%s", e.message);
	report_end(&res, p, spec.verbose);
	if (spec.n_collect)
		report_collected(&res, output_dir, spec.verbose);
	json_decref(res.collected);
	return res.exit_status;

usage:
	fprintf(stderr, "Try 'warren run --help' for more information.\n");
	return WARREN_EXIT_SETUP;
}
