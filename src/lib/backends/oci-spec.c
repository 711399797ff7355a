#include "config.h"
#include "oci-spec.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cleanup.h"
#include "userns.h"

/* ---- process ------------------------------------------------------------ */

static const char *rlimit_name(int resource)
{
	switch (resource) {
	case RLIMIT_CORE: return "RLIMIT_CORE";
	case RLIMIT_NOFILE: return "RLIMIT_NOFILE";
	case RLIMIT_FSIZE: return "RLIMIT_FSIZE";
	case RLIMIT_STACK: return "RLIMIT_STACK";
	case RLIMIT_CPU: return "RLIMIT_CPU";
	case RLIMIT_NPROC: return "RLIMIT_NPROC";
	case RLIMIT_MEMLOCK: return "RLIMIT_MEMLOCK";
	case RLIMIT_AS: return "RLIMIT_AS";
	}
	return NULL;
}

static json_t *string_array(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *oci_process_json(const struct oci_process_params *c, wr_error *e)
{
	const struct policy *p = c->policy;
	json_auto_t *rlimits = json_array();
	for (size_t i = 0; rlimits && i < POLICY_RLIMIT_COUNT; i++) {
		if (!p->rlimits[i].set)
			continue;
		const char *name = rlimit_name(p->rlimits[i].resource);
		if (!name) {
			wr_error_set(e, EINVAL, "rlimit %d has no OCI name", p->rlimits[i].resource);
			return NULL;
		}
		/* jansson integers are signed: "unlimited" becomes 2^63-1,
		 * which no limit reaches either */
		uint64_t v = p->rlimits[i].value > INT64_MAX ? INT64_MAX : p->rlimits[i].value;
		json_array_append_new(rlimits, json_pack("{s:s, s:I, s:I}", "type", name,
							 "hard", (json_int_t)v, "soft", (json_int_t)v));
	}
	json_t *none = json_array();
	json_t *proc = json_pack("{s:b, s:{s:i, s:i, s:[]}, s:o*, s:o*, s:s, s:{s:O, s:O, s:O, s:O, s:O},"
				 " s:b, s:O, s:i}",
				 "terminal", 0,
				 "user", "uid", SANDBOX_UID, "gid", SANDBOX_GID, "additionalGids",
				 "args", string_array(c->argv), "env", string_array(c->envp),
				 "cwd", c->cwd,
				 "capabilities", "bounding", none, "effective", none, "inheritable", none,
				 "permitted", none, "ambient", none,
				 "noNewPrivileges", 1, "rlimits", rlimits, "oomScoreAdj", c->oom_score_adj);
	json_decref(none);
	if (!proc || !json_object_get(proc, "args") || !json_object_get(proc, "env")) {
		json_decref(proc);
		wr_error_set(e, ENOMEM, "OCI process");
		return NULL;
	}
	return proc;
}

/* ---- config.json -------------------------------------------------------- */

const char *oci_plan_path(const char *path)
{
	size_t n = strlen(MOUNT_NEWROOT);
	if (!strncmp(path, MOUNT_NEWROOT, n) && (path[n] == '/' || !path[n]))
		return path[n] ? path + n : "/";
	n = strlen(MOUNT_OLDROOT);
	if (!strncmp(path, MOUNT_OLDROOT, n) && (path[n] == '/' || !path[n]))
		return path[n] ? path + n : "/";
	return path;
}

static bool under_dev(const char *target)
{
	return !strncmp(oci_plan_path(target), "/dev/", 5);
}

bool oci_plan_op_is_skeleton(const struct mount_op *op)
{
	/* /dev's links and nodes are the runtime's own (runc makes them) */
	return (op->kind == MOP_MKDIR || op->kind == MOP_SYMLINK || op->kind == MOP_WRITE_FILE) &&
	       !under_dev(op->target);
}

/* "mode=0755,size=1M" as mount options after the flags. */
static json_t *tmpfs_options(const char *data, const char *flags[])
{
	json_t *opts = json_array();
	for (size_t i = 0; opts && flags[i]; i++)
		json_array_append_new(opts, json_string(flags[i]));
	_cleanup_free_ char *copy = strdup(data ? data : "");
	char *save = NULL;
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; opts && tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(opts, json_string(tok));
	return opts;
}

static json_t *mount_json(const char *dest, const char *type, const char *source, json_t *options)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
			 "options", options);
}

/* The plan's ops as mounts, masked and read-only paths; the root's own
 * directories, links and files are the skeleton (oci_plan_op_is_skeleton),
 * /dev's nodes and links the runtime's. */
static int translate_plan(const struct mount_plan *plan, const char *rootfs, json_t *mounts, json_t *masked,
			  json_t *readonly, wr_error *e)
{
	static const char *tmpfs_flags[] = { "nosuid", "nodev", NULL };
	static const char *dev_flags[] = { "nosuid", "noexec", NULL };
	for (size_t i = 0; i < plan->n; i++) {
		const struct mount_op *op = &plan->ops[i];
		const char *target = oci_plan_path(op->target);
		json_t *m = NULL;
		switch (op->kind) {
		case MOP_TMPFS:
			if (!strcmp(target, "/"))
				continue; /* the root is root.path */
			m = mount_json(target, "tmpfs", "tmpfs",
				       tmpfs_options(op->data, strcmp(target, "/dev") ? tmpfs_flags : dev_flags));
			break;
		case MOP_BIND: {
			/* a source on neither root is a file the plan wrote on
			 * the scratch root (resolv.conf): the skeleton has it */
			char inside[PATH_MAX];
			const char *source = oci_plan_path(op->source);
			if (source == op->source) {
				snprintf(inside, sizeof inside, "%s%s", rootfs, op->source);
				source = inside;
			}
			m = mount_json(target, "bind", source,
				       json_pack("[s, s, s, s]", "rbind", op->writable ? "rw" : "ro", "nosuid", "nodev"));
			break;
		}
		case MOP_PROC:
			m = mount_json(target, "proc", "proc", json_pack("[s, s, s]", "nosuid", "nodev", "noexec"));
			break;
		case MOP_DEVPTS:
			m = mount_json(target, "devpts", "devpts",
				       json_pack("[s, s, s, s, s]", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
						 "mode=0620"));
			break;
		case MOP_MASK:
			json_array_append_new(masked, json_string(target));
			continue;
		case MOP_READONLY:
			json_array_append_new(readonly, json_string(target));
			continue;
		case MOP_DEV_BIND:      /* the runtime binds the same nodes */
		case MOP_REMOUNT_RO:    /* root.readonly; /dev stays writable for the runtime */
		case MOP_MKDIR:
		case MOP_SYMLINK:
		case MOP_WRITE_FILE:
		case MOP_UNMOUNT:       /* not in a whole root's plan */
			continue;
		case MOP_MOVE_FD:
			return wr_error_set(e, EINVAL, "mount plan: detached mount at %s cannot be written to config.json",
					    target);
		}
		if (!m || json_array_append_new(mounts, m) < 0)
			return wr_error_set(e, ENOMEM, "config.json mounts");
	}
	return 0;
}

static json_t *resources_json(const struct policy_limits *l)
{
	json_t *res = json_object();
	if (l->memory)
		json_object_set_new(res, "memory", json_pack("{s:I, s:I}", "limit", (json_int_t)l->memory,
							     "swap", (json_int_t)l->memory));
	if (l->pids)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)l->pids));
	if (l->cpu_millis) {
		/* as cgroup.c: a 100 ms period and at least 1 ms of quota */
		uint64_t quota = (uint64_t)l->cpu_millis * 100;
		json_object_set_new(res, "cpu", json_pack("{s:I, s:I}", "quota", (json_int_t)(quota < 1000 ? 1000 : quota),
							  "period", (json_int_t)100000));
	}
	return res;
}

json_t *oci_config_json(const struct oci_config_params *c, wr_error *e)
{
	const struct policy *p = c->policy;
	json_auto_t *process = oci_process_json(&(struct oci_process_params){
		.policy = p, .argv = c->init_argv, .envp = p->env, .cwd = "/workspace",
		.oom_score_adj = c->oom_score_adj }, e);
	if (!process)
		return NULL;
	json_auto_t *seccomp = oci_seccomp_json(p, e);
	if (!seccomp)
		return NULL;
	json_auto_t *mounts = json_array(), *masked = json_array(), *readonly = json_array();
	if (translate_plan(c->mounts, c->rootfs, mounts, masked, readonly, e) < 0)
		return NULL;
	json_auto_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "user", "type", "pid",
					      "type", "mount", "type", "ipc", "type", "uts", "type", "cgroup");
	if (ns && p->network != NET_HOST)
		json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	json_t *lnx = json_pack("{s:O, s:[{s:i, s:I, s:I}], s:[{s:i, s:I, s:I}], s:o, s:O, s:O, s:O, s:s}",
				  "namespaces", ns,
				  "uidMappings", "containerID", 0, "hostID", (json_int_t)c->host_uid_base,
				  "size", (json_int_t)c->id_count,
				  "gidMappings", "containerID", 0, "hostID", (json_int_t)c->host_uid_base,
				  "size", (json_int_t)c->id_count,
				  "resources", resources_json(&p->limits),
				  "maskedPaths", masked, "readonlyPaths", readonly, "seccomp", seccomp,
				  "rootfsPropagation", "rprivate");
	if (lnx && c->cgroups_path)
		json_object_set_new(lnx, "cgroupsPath", json_string(c->cgroups_path));
	json_t *config = lnx ? json_pack("{s:s, s:O, s:{s:s, s:b}, s:s, s:O, s:o}", "ociVersion", "1.0.2",
					   "process", process, "root", "path", c->rootfs, "readonly", 1,
					   "hostname", p->hostname ? p->hostname : "sandbox", "mounts", mounts,
					   "linux", lnx)
			       : NULL;
	if (!config)
		wr_error_set(e, ENOMEM, "config.json");
	return config;
}
