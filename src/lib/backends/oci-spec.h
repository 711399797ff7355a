/* The warren policy as an OCI runtime-spec config.json (owned by the oci
 * backend) and as the seccomp object the oci and docker backends hand to
 * their runtime. Pure: every function builds JSON from its arguments. */
#pragma once
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "mount.h"
#include "policy.h"

/* The native seccomp filter (seccomp.c) as an OCI "linux.seccomp" object
 * (oci-seccomp.c): defaultAction SCMP_ACT_ERRNO with defaultErrnoRet the
 * policy's errno, architectures x86_64 only, syscalls [{names, action,
 * errnoRet, args[{index, value, valueTwo, op}]}]: the allowlist, the
 * contract's argument rules, the policy's socket families (EAFNOSUPPORT
 * for others). Docker's SecurityOpt "seccomp=<json>" takes the same object. */
json_t *oci_seccomp_json(const struct policy *p, wr_error *e);

/* One process of the sandbox: config.json's "process", or what `runc exec
 * --process` reads. User 1000:1000 without extra groups, no capabilities,
 * no_new_privs, the policy's rlimits. */
struct oci_process_params {
	const struct policy *policy;
	char *const *argv;
	char *const *envp;        /* complete environment */
	const char *cwd;
	int oom_score_adj;
};
json_t *oci_process_json(const struct oci_process_params *c, wr_error *e);

struct oci_config_params {
	const struct policy *policy;     /* effective policy */
	const struct mount_plan *mounts; /* mount_plan_build(), image_detached false, tmpfs workspace */
	const char *rootfs;              /* root.path: a directory the skeleton was written to */
	uid_t host_uid_base;             /* inside 0..id_count-1 -> host_uid_base.. */
	uint32_t id_count;
	const char *cgroups_path;        /* linux.cgroupsPath, or NULL */
	char *const *init_argv;          /* pid 1 */
	int oom_score_adj;               /* of pid 1 (runc exec copies it too) */
};
json_t *oci_config_json(const struct oci_config_params *c, wr_error *e);

/* What the mount plan needs on disk below the root before the runtime
 * mounts over it: true for ops the runtime does not do (directories,
 * symlinks and files of the root itself). */
bool oci_plan_op_is_skeleton(const struct mount_op *op);
/* The plan's path with the /newroot or /oldroot prefix stripped. */
const char *oci_plan_path(const char *path);
