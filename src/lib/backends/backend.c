/* The backends by kind and name. */
#include "config.h"
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

static const char *const kind_names[BACKEND_COUNT] = {
	[BACKEND_NATIVE] = "native", [BACKEND_OCI] = "oci", [BACKEND_DOCKER] = "docker",
};

const struct backend_ops *backend_get(enum backend_kind k)
{
	switch (k) {
	case BACKEND_NATIVE: return &backend_native_ops;
	case BACKEND_OCI: return &backend_oci_ops;
	case BACKEND_DOCKER: return &backend_docker_ops;
	default: return NULL;
	}
}

bool backend_names_fixed(const struct backend_ops *ops)
{
	return ops->fixed_name || (ops->names_fixed && ops->names_fixed());
}

int backend_check_network(const struct backend_ops *ops, const struct policy *p, wr_error *e)
{
	if (p->network == NET_HOST)
		return wr_error_set(e, EPERM, "a session cannot have the host's network (policy %s): it would reach "
				    "warrend itself; that is for warren run by root only", p->name);
	if (p->network == NET_EGRESS && !ops->net)
		return wr_error_set(e, EOPNOTSUPP, "the %s backend cannot give a session network egress (policy %s): "
				    "its sandboxes cannot join the network namespace warren prepares for the "
				    "allowlist; use the native backend, or \"network\": {\"mode\": \"none\"}",
				    ops->name, p->name);
	return 0;
}

int backend_kind_parse(const char *name, enum backend_kind *out)
{
	for (int k = 0; k < BACKEND_COUNT; k++)
		if (name && !strcmp(name, kind_names[k])) {
			*out = (enum backend_kind)k;
			return 0;
		}
	return -EINVAL;
}

const char *backend_kind_name(enum backend_kind k)
{
	return k >= 0 && k < BACKEND_COUNT ? kind_names[k] : "unknown";
}

int backend_open_in_root(pid_t pid, const char *dir)
{
	char root[48];
	snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
	int top = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return -errno;
	/* below the sandbox's root, into the mount there, through no link */
	int fd = files_openat2(top, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0,
			       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	close(top);
	return fd;
}
