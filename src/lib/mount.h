/* The sandbox's filesystem as an ordered plan of operations, built in the
 * parent (allocation, readdir, string joins) and applied by the child with
 * raw syscalls only. The child first pivots onto a scratch tmpfs so the
 * host's root is reachable at /oldroot while /newroot is assembled; then
 * it pivots into /newroot and detaches the old root.
 *
 * As root the plan comes in two parts (template.h): what every sandbox of
 * an (image, policy) shares (the root tmpfs, the image's read-only binds,
 * /etc, /dev's nodes, the policy's mounts and most masks) is built once as
 * a template mount tree; each sandbox attaches a copy of it and pivots
 * into it, then mounts only its own /workspace, /tmp, /dev/pts, /dev/shm
 * and /proc with their masks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

#define MOUNT_OLDROOT "/oldroot"
#define MOUNT_NEWROOT "/newroot"

enum mount_op_kind {
	MOP_TMPFS,       /* tmpfs at target: data = options, mode */
	MOP_BIND,        /* bind source on target, then read-only unless writable */
	MOP_DEV_BIND,    /* bind a host device node (keeps dev, nosuid, noexec) */
	MOP_MKDIR,       /* directory target with mode */
	MOP_SYMLINK,     /* symlink target -> source */
	MOP_WRITE_FILE,  /* regular file target holding data (data_len bytes), mode */
	MOP_PROC,        /* proc at target (from inside the new pid namespace) */
	MOP_DEVPTS,      /* devpts newinstance at target */
	MOP_MASK,        /* hide target: /dev/null over a file, empty ro tmpfs over a dir */
	MOP_READONLY,    /* bind target on itself read-only (e.g. /proc/sys) */
	MOP_MOVE_FD,     /* attach the detached mount `fd` at target (read-only unless writable) */
	MOP_REMOUNT_RO,  /* make the mount at target read-only (the root tmpfs) */
	MOP_UNMOUNT,     /* detach the mount at target (a staging mount, its binds stay) */
};

/* Which ops a plan holds. */
enum mount_part {
	MOUNT_PART_ALL,       /* the whole root, assembled in the sandbox */
	MOUNT_PART_TEMPLATE,  /* what sandboxes of one (image, policy) share */
	MOUNT_PART_SANDBOX,   /* the rest, inside an attached template */
};

struct mount_op {
	enum mount_op_kind kind;
	const char *source;   /* absolute, already under /oldroot */
	const char *target;   /* absolute, already under /newroot */
	const char *data;     /* tmpfs options, file content; MOP_MASK: an empty directory to bind
			       * over directories (NULL: an empty read-only tmpfs) */
	size_t data_len;
	mode_t mode;
	bool writable;        /* MOP_BIND */
	bool optional;        /* a missing source is skipped, not an error */
	bool is_dir;          /* MOP_BIND/MOP_MASK: source/target is a directory */
	bool noexec;          /* MOP_REMOUNT_RO: noexec too (/dev) */
	bool exists;          /* the mount point is there already (a template's) */
	bool fresh;           /* MOP_MKDIR: must not exist yet (in a new tmpfs) */
	int fd;               /* MOP_MOVE_FD */
};

struct mount_plan {
	struct mount_op *ops;
	size_t n, cap;
	char **strings;       /* every string the ops point into, owned here */
	size_t n_strings, cap_strings;
	int *fds;             /* detached mounts of image entries, owned here */
	size_t n_fds;
	const char *new_root; /* the prefix of targets ("/newroot") */
	const char *old_root; /* the prefix of host paths ("/oldroot", or "") */
	enum mount_part part;
	int template_fd;      /* MOUNT_PART_SANDBOX: the template's copy to enter (not owned) */
};

/* What the sandbox's filesystem is made of. */
struct mount_config {
	const char *image_dir;        /* NULL or "host": the built-in host image */
	bool image_detached;          /* attach image entries as detached mounts (needs root) */
	const char *workspace_dir;    /* host directory for /workspace, or NULL (tmpfs) */
	int workspace_fd;             /* idmapped detached mount of workspace_dir, or -1 */
	uint64_t workspace_size;      /* bytes, tmpfs workspace */
	uint64_t tmp_size;            /* bytes, /tmp */
	enum net_mode network;        /* resolv.conf and hosts only with network */
	const char *resolv_conf;      /* the sandbox's /etc/resolv.conf, or NULL */
	const struct policy_mount *extra;  /* policy mounts (read-only binds) */
	size_t n_extra;
	char *const *hide;            /* the policy's "hide": masked last */
	size_t n_hide;
	uid_t sandbox_uid;            /* owner of /workspace and /tmp in tmpfs mode */
	gid_t sandbox_gid;
	enum mount_part part;         /* MOUNT_PART_ALL unless a template is used */
	const char *new_root;         /* NULL: MOUNT_NEWROOT (a template: where it is built; part
				       * SANDBOX: where the copy is attached, /tmp of the host) */
	const char *old_root;         /* NULL: MOUNT_OLDROOT ("": host paths as they are, and so
				       * in part SANDBOX) */
	int template_fd;              /* MOUNT_PART_SANDBOX: a copy of the template */
};

/* Each op kind's name, as failures and describe print it. */
extern const char *const mount_op_names[MOP_UNMOUNT + 1];
/* What every sandbox masks, NULL-terminated: Docker's default list (its
 * oci/defaults.go) and more, among them /proc/locks and the kernel's
 * symbols and log. A file is covered by /dev/null, a directory by an empty
 * read-only tmpfs; what does not exist is skipped. */
extern const char *const mount_masked_paths[];
/* What every sandbox sees read-only (Docker's list): /proc/sys, bus, fs, irq. */
extern const char *const mount_readonly_paths[];
/* Masked in the built-in host image besides: what the host's /usr keeps
 * that is not software (npm's and other tools' configuration, with their
 * credentials, in /usr/local/etc). */
extern const char *const mount_host_hidden[];

/* Builds the plan. Pure apart from lstat/readdir of the image. */
int mount_plan_build(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e);
void mount_plan_free(struct mount_plan *plan);

/* True when a path of the policy's "hide" lies in a mount of each sandbox's
 * own (/workspace, /tmp, /proc, /dev/pts, /dev/shm), so it is masked in the
 * sandbox, not in its template. */
bool mount_path_per_sandbox(const char *path);

/* Child side. Applies every step; on failure returns -errno and points
 * *failed_step at a static description ("bind /usr") for the parent. */
int mount_setup_scratch_root(const char **failed_step);
int mount_plan_apply(const struct mount_plan *plan, const char **failed_step,
		     const char **failed_path);
int mount_enter_new_root(const char **failed_step);
/* The whole of a sandbox's root, the old root detached: part ALL on a
 * scratch root (the host's at /oldroot, the new one assembled at /newroot);
 * part SANDBOX in the template's copy attached at the plan's root. */
int mount_setup_root(const struct mount_plan *plan, const char **failed_step, const char **failed_path);
/* Child side, after mount_setup_root: closes the detached mounts the plan
 * attached (they are in place; the sandbox keeps no fd of them). */
void mount_plan_close_fds(const struct mount_plan *plan);
/* The mounts of a template (part TEMPLATE), built where the plan says,
 * then made private (no propagation to or from its copies) and read-only.
 * On failure what was mounted is detached again. */
int mount_build_template(const struct mount_plan *plan, const char **failed_step, const char **failed_path);

/* Shrinks the tmpfs mounts of a running sandbox (/workspace, /tmp,
 * /dev/shm; init is `pid`, they are reached through /proc/PID/root) to
 * what policy_tmpfs_size allows under `memory`, for a sandbox that takes a
 * tighter memory limit live. A mount already that small, or not a tmpfs,
 * is left alone. Needs root (fspick and fsconfig, Linux 5.2). */
int mount_fit_tmpfs_to_memory(pid_t pid, uint64_t memory, wr_error *e);

/* "tmpfs /newroot/tmp size=64M" … one line per op, for --verbose and tests. */
void mount_plan_describe(const struct mount_plan *plan, int fd);
