/* Templates: the part of a sandbox's root that every sandbox of one
 * (image, policy) shares (mount.h's MOUNT_PART_TEMPLATE: the root tmpfs,
 * the image's read-only binds, /etc, /dev's nodes, the policy's mounts and
 * masks), built once as a mount tree. Each sandbox gets a copy of it with
 * one open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) and attaches it in its own
 * mount namespace (mount_setup_root).
 *
 * Templates live in a mount namespace of their own, so neither the host's
 * mount table nor the one each new sandbox copies grows with them: a store
 * is that namespace and a tmpfs in it holding one directory per template,
 * NAME (the template's root) and NAME.key (what it was built from: every op
 * of its plan, with the device and inode of every host path it binds). A
 * template whose key no longer matches (the image has a new generation, the
 * policy changed, a host file bound in it was replaced) is built again;
 * copies already made keep what they had. Every template is private (no
 * mount propagation to or from it or between its copies) and read-only.
 *
 * Two kinds of store:
 *  - shared, for `warren run` (root): the namespace is pinned by a bind
 *    mount at STATE/templates/ns, on a private bind of STATE/templates,
 *    so templates outlive each run; runs take STATE/templates.lock while
 *    they look a template up or build it;
 *  - private, for warrend's spawner: the namespace is held by the store's
 *    fd only and is gone with its process. */
#pragma once
#include <stdbool.h>

#include "error.h"
#include "mount.h"

#define TEMPLATE_STATE_DIR "/run/warren"

struct template_store;

/* `warren run`'s store under state_dir (created on first use). */
int template_store_open_shared(const char *state_dir, struct template_store **out, wr_error *e);
/* A store of this process only; `dir` is an existing directory of the
 * host (the store's tmpfs is mounted on it in the store's namespace
 * only). */
int template_store_open_private(const char *dir, struct template_store **out, wr_error *e);
void template_store_close(struct template_store *s);

/* A copy of the template of `cfg` (the sandbox's mount configuration; its
 * template part is derived here), building the template first when it is
 * missing or stale. *fd is the detached copy (O_CLOEXEC) to attach;
 * *built says whether it was built now. Root only. */
int template_store_clone(struct template_store *s, const struct mount_config *cfg, int *fd, bool *built,
			 wr_error *e);
/* How many templates the store holds (tests, --verbose). */
unsigned template_store_count(struct template_store *s);
