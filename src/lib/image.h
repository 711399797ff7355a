/* Named images: root filesystems that warren-rootfs(1) installs as
 * <image_dir>/NAME/rootfs (or hand-made ones at <image_dir>/NAME), with a
 * manifest at <image_dir>/NAME/image.json. "host" is the built-in image and
 * never a directory. Shared by `warren run --image` and warrend. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define IMAGE_HOST "host"

/* [A-Za-z0-9._-], 1 to 64 characters, not starting with '.' or '-'. */
bool image_name_valid(const char *name);

/* The root filesystem directory of image NAME in dir (malloc'd), or NULL
 * with errno ENOENT if there is none (EINVAL for an invalid name). */
char *image_path(const char *dir, const char *name);

/* The images in dir, sorted, as a NULL-terminated malloc'd vector (free it
 * with strv_freep); "host" is not included. NULL only when out of memory;
 * a missing dir gives an empty vector. */
char **image_names(const char *dir);

/* "host, minimal, python": every image name for error messages (malloc'd). */
char *image_names_text(const char *dir);
