#include "config.h"

#include "unit.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount.h"

static struct mount_config base_config(void)
{
	return (struct mount_config){
		.workspace_fd = -1, .workspace_size = 64 << 20, .tmp_size = 32 << 20,
		.network = NET_NONE, .sandbox_uid = 1000, .sandbox_gid = 1000,
	};
}

static const struct mount_op *find(const struct mount_plan *p, enum mount_op_kind kind, const char *target)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].kind == kind && !strcmp(p->ops[i].target, target))
			return &p->ops[i];
	return NULL;
}

static size_t index_of(const struct mount_plan *p, const struct mount_op *op)
{
	return (size_t)(op - p->ops);
}

START_TEST(host_image_plan)
{
	struct mount_plan p;
	struct mount_config c = base_config();
	wr_error e = { 0 };
	ck_assert_msg(mount_plan_build(&p, &c, &e) == 0, "%s", e.message);

	/* The root tmpfs first, made read-only last. */
	ck_assert_int_eq(p.ops[0].kind, MOP_TMPFS);
	ck_assert_str_eq(p.ops[0].target, "/newroot");
	ck_assert_int_eq(p.ops[p.n - 1].kind, MOP_REMOUNT_RO);
	ck_assert_str_eq(p.ops[p.n - 1].target, "/newroot");

	const struct mount_op *usr = find(&p, MOP_BIND, "/newroot/usr");
	ck_assert_ptr_nonnull(usr);
	ck_assert_str_eq(usr->source, "/oldroot/usr");
	ck_assert(!usr->writable);

	const struct mount_op *ws = find(&p, MOP_TMPFS, "/newroot/workspace");
	ck_assert_ptr_nonnull(ws);
	ck_assert_ptr_nonnull(strstr(ws->data, "size=67108864"));
	ck_assert_ptr_nonnull(strstr(ws->data, "uid=1000"));
	const struct mount_op *tmp = find(&p, MOP_TMPFS, "/newroot/tmp");
	ck_assert_ptr_nonnull(tmp);
	ck_assert_ptr_nonnull(strstr(tmp->data, "size=33554432"));
	ck_assert_ptr_nonnull(strstr(tmp->data, "mode=1777"));

	/* /proc is mounted before its sensitive parts are masked. */
	const struct mount_op *proc = find(&p, MOP_PROC, "/newroot/proc");
	const struct mount_op *kcore = find(&p, MOP_MASK, "/newroot/proc/kcore");
	const struct mount_op *sys = find(&p, MOP_READONLY, "/newroot/proc/sys");
	ck_assert_ptr_nonnull(proc);
	ck_assert_ptr_nonnull(kcore);
	ck_assert_ptr_nonnull(sys);
	ck_assert_uint_lt(index_of(&p, proc), index_of(&p, kcore));
	ck_assert_ptr_nonnull(find(&p, MOP_MASK, "/newroot/proc/sysrq-trigger"));

	/* A minimal /dev: the six nodes, a private devpts, shm. */
	const char *nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	for (size_t i = 0; i < 6; i++) {
		char t[64];
		snprintf(t, sizeof t, "/newroot/dev/%s", nodes[i]);
		ck_assert_msg(find(&p, MOP_DEV_BIND, t) != NULL, "no %s", t);
	}
	ck_assert_ptr_nonnull(find(&p, MOP_DEVPTS, "/newroot/dev/pts"));
	ck_assert_ptr_nonnull(find(&p, MOP_TMPFS, "/newroot/dev/shm"));
	ck_assert_ptr_null(find(&p, MOP_DEV_BIND, "/newroot/dev/sda"));

	/* The sandbox user is named in a written passwd, not the host's. */
	const struct mount_op *pw = find(&p, MOP_WRITE_FILE, "/newroot/etc/passwd");
	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(strstr(pw->data, "sandbox:x:1000:1000:"));
	ck_assert_ptr_null(find(&p, MOP_BIND, "/newroot/etc/passwd"));
	ck_assert_ptr_null(find(&p, MOP_BIND, "/newroot/etc/shadow"));
	/* No network, no resolver configuration. */
	ck_assert_ptr_null(find(&p, MOP_BIND, "/newroot/etc/resolv.conf"));
	ck_assert_ptr_nonnull(find(&p, MOP_WRITE_FILE, "/newroot/etc/hosts"));
	mount_plan_free(&p);
}
END_TEST

START_TEST(host_network_binds_resolver)
{
	if (access("/etc/resolv.conf", F_OK) != 0)
		return; /* nothing to bind on this host; the absence case is above */
	struct mount_plan p;
	struct mount_config c = base_config();
	c.network = NET_HOST;
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), 0);
	ck_assert_ptr_nonnull(find(&p, MOP_BIND, "/newroot/etc/resolv.conf"));
	mount_plan_free(&p);
}
END_TEST

/* Egress: warren's resolv.conf, written on the scratch root and bound
 * over the image's before the root goes read-only; the host's hosts file
 * is not the sandbox's. */
START_TEST(egress_network_gets_its_own_resolver)
{
	struct mount_plan p;
	struct mount_config c = base_config();
	c.network = NET_EGRESS;
	c.resolv_conf = "nameserver 127.0.0.53\n";
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), 0);
	const struct mount_op *w = find(&p, MOP_WRITE_FILE, "/resolv.conf");
	const struct mount_op *b = find(&p, MOP_BIND, "/newroot/etc/resolv.conf");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->source, "/resolv.conf");
	ck_assert_uint_eq(w->data_len, strlen(c.resolv_conf));
	ck_assert_uint_lt(index_of(&p, w), index_of(&p, b));
	ck_assert_uint_lt(index_of(&p, b), index_of(&p, find(&p, MOP_REMOUNT_RO, "/newroot")));
	ck_assert_ptr_nonnull(find(&p, MOP_WRITE_FILE, "/newroot/etc/hosts"));
	mount_plan_free(&p);
}
END_TEST

START_TEST(workspace_dir_is_writable_bind)
{
	struct mount_plan p;
	struct mount_config c = base_config();
	c.workspace_dir = "/srv/work";
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), 0);
	const struct mount_op *ws = find(&p, MOP_BIND, "/newroot/workspace");
	ck_assert_ptr_nonnull(ws);
	ck_assert_str_eq(ws->source, "/oldroot/srv/work");
	ck_assert(ws->writable);
	ck_assert_ptr_null(find(&p, MOP_TMPFS, "/newroot/workspace"));
	mount_plan_free(&p);

	c.workspace_fd = 42; /* an idmapped mount prepared by the parent */
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), 0);
	ws = find(&p, MOP_MOVE_FD, "/newroot/workspace");
	ck_assert_ptr_nonnull(ws);
	ck_assert_int_eq(ws->fd, 42);
	mount_plan_free(&p);
}
END_TEST

START_TEST(policy_mounts_are_read_only)
{
	struct policy_mount extra[] = { { .source = "/opt/data", .target = "/data" } };
	struct mount_plan p;
	struct mount_config c = base_config();
	c.extra = extra;
	c.n_extra = 1;
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), 0);
	const struct mount_op *m = find(&p, MOP_BIND, "/newroot/data");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->source, "/oldroot/opt/data");
	ck_assert(!m->writable);
	mount_plan_free(&p);
}
END_TEST

/* A minimal image in dir (a mkdtemp template): usr, etc, proc, bin -> usr/bin. */
static void make_image(char *dir)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[256];
	const char *dirs[] = { "usr", "etc", "proc" };
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, dirs[i]);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	snprintf(path, sizeof path, "%s/bin", dir);
	ck_assert_int_eq(symlink("usr/bin", path), 0);
}

static void remove_image(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Docker's masks and /proc/locks; the host image hides /usr/local/etc
 * after binding /usr; a policy's "hide" comes after every mount. */
START_TEST(masks_and_hidden_paths)
{
	struct policy_mount extra[] = { { .source = "/opt/data", .target = "/data" } };
	char *hide[] = { "/data/secret", "/etc/ssh", NULL };
	struct mount_plan p;
	struct mount_config c = base_config();
	c.extra = extra;
	c.n_extra = 1;
	c.hide = hide;
	c.n_hide = 2;
	wr_error e = { 0 };
	ck_assert_msg(mount_plan_build(&p, &c, &e) == 0, "%s", e.message);
	const char *masked[] = { "/proc/interrupts", "/proc/locks", "/proc/timer_stats", "/proc/keys",
				 "/proc/asound", "/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap" };
	const struct mount_op *proc = find(&p, MOP_PROC, "/newroot/proc");
	for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
		char t[128];
		snprintf(t, sizeof t, "/newroot%s", masked[i]);
		const struct mount_op *m = find(&p, MOP_MASK, t);
		ck_assert_msg(m != NULL, "%s is not masked", masked[i]);
		ck_assert(m->optional);
		ck_assert_uint_gt(index_of(&p, m), index_of(&p, proc));
	}
	const struct mount_op *usr = find(&p, MOP_BIND, "/newroot/usr");
	const struct mount_op *local_etc = find(&p, MOP_MASK, "/newroot/usr/local/etc");
	ck_assert_ptr_nonnull(local_etc);
	ck_assert_uint_gt(index_of(&p, local_etc), index_of(&p, usr));
	const struct mount_op *data = find(&p, MOP_BIND, "/newroot/data");
	const struct mount_op *secret = find(&p, MOP_MASK, "/newroot/data/secret");
	ck_assert_ptr_nonnull(secret);
	ck_assert_uint_gt(index_of(&p, secret), index_of(&p, data));
	ck_assert_ptr_nonnull(find(&p, MOP_MASK, "/newroot/etc/ssh"));
	mount_plan_free(&p);
}
END_TEST

START_TEST(image_directory)
{
	char dir[] = "/tmp/warren-test-image-XXXXXX";
	struct mount_plan p;
	struct mount_config c = base_config();
	wr_error e = { 0 };

	/* Without /usr it is not a root filesystem. */
	char empty[] = "/tmp/warren-test-image-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(empty));
	c.image_dir = empty;
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e.message, "has no /usr"));
	mount_plan_free(&p);
	ck_assert_int_eq(rmdir(empty), 0);

	make_image(dir);
	c.image_dir = dir;
	ck_assert_msg(mount_plan_build(&p, &c, &e) == 0, "%s", e.message);
	char src[256];
	snprintf(src, sizeof src, "/oldroot%s/usr", dir);
	const struct mount_op *usr = find(&p, MOP_BIND, "/newroot/usr");
	ck_assert_ptr_nonnull(usr);
	ck_assert_str_eq(usr->source, src);
	ck_assert_ptr_nonnull(find(&p, MOP_BIND, "/newroot/etc"));
	const struct mount_op *bin = find(&p, MOP_SYMLINK, "/newroot/bin");
	ck_assert_ptr_nonnull(bin);
	ck_assert_str_eq(bin->source, "usr/bin");
	/* The image's own /proc is never bound: warren mounts a fresh one. */
	ck_assert_ptr_null(find(&p, MOP_BIND, "/newroot/proc"));
	ck_assert_ptr_nonnull(find(&p, MOP_PROC, "/newroot/proc"));
	/* passwd comes from the image, not written by warren. */
	ck_assert_ptr_null(find(&p, MOP_WRITE_FILE, "/newroot/etc/passwd"));
	mount_plan_free(&p);
	remove_image(dir);
}
END_TEST

/* As root, entries are attached as detached mounts the parent opened
 * (open_tree needs root), read-only, and symlinks stay symlinks. */
START_TEST(image_directory_detached)
{
	char dir[] = "/tmp/warren-test-image-XXXXXX";
	make_image(dir);
	struct mount_plan p;
	struct mount_config c = base_config();
	c.image_dir = dir;
	c.image_detached = true;
	wr_error e = { 0 };
	ck_assert_msg(mount_plan_build(&p, &c, &e) == 0, "%s", e.message);
	const struct mount_op *mv = find(&p, MOP_MOVE_FD, "/newroot/usr");
	ck_assert_ptr_nonnull(mv);
	ck_assert_int_ge(mv->fd, 0);
	ck_assert(!mv->writable);
	ck_assert_uint_eq(p.n_fds, 2); /* usr and etc */
	ck_assert_ptr_null(find(&p, MOP_BIND, "/newroot/usr"));
	ck_assert_ptr_nonnull(find(&p, MOP_SYMLINK, "/newroot/bin"));
	mount_plan_free(&p);
	remove_image(dir);
}
END_TEST

START_TEST(missing_image_is_a_clear_error)
{
	struct mount_plan p;
	struct mount_config c = base_config();
	c.image_dir = "/nonexistent/image";
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), -ENOENT);
	ck_assert_str_eq(e.message, "image /nonexistent/image: No such file or directory");
	mount_plan_free(&p);
}
END_TEST

/* Issue 12: the template holds what sandboxes of one (image, policy)
 * share, the sandbox's part only its own mounts; nothing is lost between
 * them: every op of the whole plan is in exactly one part. */
static size_t count_kind(const struct mount_plan *p, enum mount_op_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->ops[i].kind == kind;
	return n;
}

START_TEST(template_and_sandbox_parts)
{
	struct policy_mount extra[] = { { .source = "/opt/data", .target = "/data" } };
	char *hide[] = { "/data/secret", "/etc/ssh", "/proc/cpuinfo", "/tmp/x", "/workspace/y", "/dev/shm/z", NULL };
	struct mount_config c = base_config();
	c.extra = extra;
	c.n_extra = 1;
	c.hide = hide;
	c.n_hide = 6;
	struct mount_plan all, tpl, own;
	wr_error e = { 0 };
	ck_assert_msg(mount_plan_build(&all, &c, &e) == 0, "%s", e.message);
	c.part = MOUNT_PART_TEMPLATE;
	c.new_root = "/store/t1";
	c.old_root = "";
	ck_assert_msg(mount_plan_build(&tpl, &c, &e) == 0, "%s", e.message);
	c.part = MOUNT_PART_SANDBOX;
	c.new_root = NULL;
	c.old_root = NULL;
	c.template_fd = 42;
	ck_assert_msg(access("/tmp", F_OK) == 0, "the test wants a /tmp");
	ck_assert_msg(mount_plan_build(&own, &c, &e) == 0, "%s", e.message);

	/* the template: built at its place from host paths as they are */
	ck_assert_int_eq(tpl.ops[0].kind, MOP_TMPFS);
	ck_assert_str_eq(tpl.ops[0].target, "/store/t1");
	const struct mount_op *usr = find(&tpl, MOP_BIND, "/store/t1/usr");
	ck_assert_ptr_nonnull(usr);
	ck_assert_str_eq(usr->source, "/usr");
	ck_assert_ptr_nonnull(find(&tpl, MOP_BIND, "/store/t1/data"));
	ck_assert_ptr_nonnull(find(&tpl, MOP_DEV_BIND, "/store/t1/dev/null"));
	ck_assert_ptr_nonnull(find(&tpl, MOP_MASK, "/store/t1/usr/local/etc"));
	ck_assert_ptr_nonnull(find(&tpl, MOP_MASK, "/store/t1/data/secret"));
	ck_assert_ptr_nonnull(find(&tpl, MOP_MASK, "/store/t1/etc/ssh"));
	const char *points[] = { "/workspace", "/tmp", "/proc", "/dev/pts", "/dev/shm" };
	for (size_t i = 0; i < 5; i++) {
		char t[64];
		snprintf(t, sizeof t, "/store/t1%s", points[i]);
		ck_assert_msg(find(&tpl, MOP_MKDIR, t) != NULL, "no mount point %s in the template", points[i]);
	}
	ck_assert_int_eq(tpl.ops[tpl.n - 1].kind, MOP_REMOUNT_RO);
	ck_assert_str_eq(tpl.ops[tpl.n - 1].target, "/store/t1");
	ck_assert_ptr_nonnull(find(&tpl, MOP_REMOUNT_RO, "/store/t1/dev"));
	ck_assert(find(&tpl, MOP_REMOUNT_RO, "/store/t1/dev")->noexec);
	ck_assert_uint_eq(count_kind(&tpl, MOP_PROC) + count_kind(&tpl, MOP_DEVPTS), 0);
	ck_assert_ptr_null(find(&tpl, MOP_TMPFS, "/store/t1/workspace"));
	ck_assert_ptr_null(find(&tpl, MOP_TMPFS, "/store/t1/tmp"));
	ck_assert_int_eq(tpl.template_fd, -1);

	/* the sandbox's own part: on the copy attached at the host's /tmp
	 * (of its own copy of the mounts), host paths as they are */
	ck_assert_int_eq(own.part, MOUNT_PART_SANDBOX);
	ck_assert_int_eq(own.template_fd, 42);
	ck_assert_str_eq(own.new_root, "/tmp");
	ck_assert_uint_eq(count_kind(&own, MOP_DEV_BIND) + count_kind(&own, MOP_SYMLINK) + count_kind(&own, MOP_WRITE_FILE),
			  0);
	for (size_t i = 0; i < own.n; i++) /* nothing bound from the host */
		ck_assert(own.ops[i].kind != MOP_BIND || !strncmp(own.ops[i].source, "/tmp/dev/pts/", 13));
	ck_assert_ptr_nonnull(find(&own, MOP_TMPFS, "/tmp/workspace"));
	/* /tmp and /dev/shm: one tmpfs, staged at /dev/pts and detached
	 * before the masks bind /dev/pts/empty, devpts last */
	const struct mount_op *staging = find(&own, MOP_TMPFS, "/tmp/dev/pts");
	ck_assert_ptr_nonnull(staging);
	ck_assert_ptr_nonnull(strstr(staging->data, "size=33554432"));
	const struct mount_op *tmp = find(&own, MOP_BIND, "/tmp/tmp"), *shm = find(&own, MOP_BIND, "/tmp/dev/shm");
	ck_assert_ptr_nonnull(tmp);
	ck_assert_ptr_nonnull(shm);
	ck_assert_str_eq(tmp->source, "/tmp/dev/pts/tmp");
	ck_assert_str_eq(shm->source, "/tmp/dev/pts/shm");
	ck_assert(tmp->writable && shm->writable);
	ck_assert_uint_eq(find(&own, MOP_MKDIR, "/tmp/dev/pts/tmp")->mode, 01777);
	const struct mount_op *unmount = find(&own, MOP_UNMOUNT, "/tmp/dev/pts");
	ck_assert_ptr_nonnull(unmount);
	ck_assert_uint_lt(index_of(&own, shm), index_of(&own, unmount));
	const struct mount_op *proc = find(&own, MOP_PROC, "/tmp/proc");
	const struct mount_op *kcore = find(&own, MOP_MASK, "/tmp/proc/kcore");
	ck_assert_ptr_nonnull(proc);
	ck_assert_ptr_nonnull(kcore);
	ck_assert_str_eq(kcore->source, "/dev/null");
	/* directories are masked with the template's empty directory, which
	 * the sandbox's devpts then covers: no superblock of their own */
	ck_assert_str_eq(kcore->data, "/tmp/dev/pts/empty");
	ck_assert_ptr_nonnull(find(&tpl, MOP_MKDIR, "/store/t1/dev/pts/empty"));
	ck_assert_uint_eq(find(&tpl, MOP_MKDIR, "/store/t1/dev/pts/empty")->mode, 0500);
	ck_assert_int_eq(own.ops[own.n - 2].kind, MOP_DEVPTS);
	ck_assert_str_eq(own.ops[own.n - 2].target, "/tmp/dev/pts");
	ck_assert_ptr_null(find(&all, MOP_MASK, "/newroot/proc/kcore")->data); /* the whole root: tmpfs masks */
	ck_assert_uint_lt(index_of(&own, proc), index_of(&own, kcore));
	ck_assert_uint_lt(index_of(&own, unmount), index_of(&own, kcore));
	ck_assert_ptr_nonnull(find(&own, MOP_READONLY, "/tmp/proc/sys"));
	const char *own_hidden[] = { "/proc/cpuinfo", "/tmp/x", "/workspace/y", "/dev/shm/z" };
	for (size_t i = 0; i < 4; i++) {
		char t[64];
		snprintf(t, sizeof t, "/tmp%s", own_hidden[i]);
		const struct mount_op *m = find(&own, MOP_MASK, t);
		ck_assert_msg(m != NULL, "%s is not hidden in the sandbox's part", own_hidden[i]);
		snprintf(t, sizeof t, "/store/t1%s", own_hidden[i]);
		ck_assert_msg(find(&tpl, MOP_MASK, t) == NULL, "%s is hidden in the template too", own_hidden[i]);
	}
	ck_assert_ptr_null(find(&own, MOP_MASK, "/tmp/etc/ssh"));
	ck_assert_int_eq(own.ops[own.n - 1].kind, MOP_REMOUNT_RO);

	/* nothing lost: every mount point of the whole plan is one of a part */
	for (size_t i = 0; i < all.n; i++) {
		const struct mount_op *op = &all.ops[i];
		if (op->kind == MOP_MKDIR || op->kind == MOP_SYMLINK || op->kind == MOP_WRITE_FILE)
			continue;
		const char *rel = op->target + strlen("/newroot");
		char in_tpl[PATH_MAX], in_own[PATH_MAX];
		snprintf(in_tpl, sizeof in_tpl, "/store/t1%s", rel);
		snprintf(in_own, sizeof in_own, "/tmp%s", rel);
		bool found = false;
		for (size_t j = 0; j < tpl.n && !found; j++)
			found = !strcmp(tpl.ops[j].target, in_tpl) && tpl.ops[j].kind != MOP_MKDIR;
		for (size_t j = 0; j < own.n && !found; j++)
			found = !strcmp(own.ops[j].target, in_own);
		ck_assert_msg(found, "%s of the whole plan is in neither part", op->target);
	}
	mount_plan_free(&all);
	mount_plan_free(&tpl);
	mount_plan_free(&own);
}
END_TEST

START_TEST(sandbox_part_needs_a_template)
{
	struct mount_config c = base_config();
	c.part = MOUNT_PART_SANDBOX;
	c.template_fd = -1;
	struct mount_plan p;
	wr_error e = { 0 };
	ck_assert_int_eq(mount_plan_build(&p, &c, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "template"));
}
END_TEST

START_TEST(paths_per_sandbox)
{
	const char *own[] = { "/workspace", "/workspace/a", "/tmp/x", "/proc", "/proc/kcore", "/dev/pts/0", "/dev/shm" };
	const char *shared[] = { "/", "/etc/ssh", "/usr/tmp", "/workspaces", "/tmpx", "/dev/null", "/dev/shmx", "/procs" };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		ck_assert_msg(mount_path_per_sandbox(own[i]), "%s", own[i]);
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
		ck_assert_msg(!mount_path_per_sandbox(shared[i]), "%s", shared[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mount");
	TCase *tc = tcase_create("plan");
	tcase_add_test(tc, host_image_plan);
	tcase_add_test(tc, host_network_binds_resolver);
	tcase_add_test(tc, egress_network_gets_its_own_resolver);
	tcase_add_test(tc, workspace_dir_is_writable_bind);
	tcase_add_test(tc, policy_mounts_are_read_only);
	tcase_add_test(tc, masks_and_hidden_paths);
	tcase_add_test(tc, template_and_sandbox_parts);
	tcase_add_test(tc, sandbox_part_needs_a_template);
	tcase_add_test(tc, paths_per_sandbox);
	tcase_add_test(tc, image_directory);
	unit_add_root_test(tc, image_directory_detached);
	tcase_add_test(tc, missing_image_is_a_clear_error);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
