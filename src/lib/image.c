#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "image.h"

bool image_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_' || *c == '.'))
			return false;
	return true;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *image_path(const char *dir, const char *name)
{
	if (!image_name_valid(name)) {
		errno = EINVAL;
		return NULL;
	}
	/* warren-rootfs' layout first: NAME (a symlink to the current
	 * generation) holding rootfs/ and image.json. */
	char *path;
	if (asprintf(&path, "%s/%s/rootfs", dir, name) < 0)
		return NULL;
	if (is_dir(path))
		return path;
	free(path);
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	if (is_dir(path))
		return path;
	free(path);
	errno = ENOENT;
	return NULL;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **image_names(const char *dir)
{
	size_t n = 0;
	_cleanup_strv_ char **names = calloc(1, sizeof *names);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!names)
		return NULL;
	while (d && (de = readdir(d))) {
		/* Dot entries are warren-rootfs' generations, builds and locks. */
		if (!image_name_valid(de->d_name) || !strcmp(de->d_name, IMAGE_HOST))
			continue;
		_cleanup_free_ char *path = image_path(dir, de->d_name);
		if (!path)
			continue;
		char **grown = realloc(names, (n + 2) * sizeof *names);
		if (!grown)
			return NULL;
		names = grown;
		if (!(names[n] = strdup(de->d_name)))
			return NULL;
		names[++n] = NULL;
	}
	qsort(names, n, sizeof *names, compare_names);
	return TAKE_PTR(names);
}

char *image_names_text(const char *dir)
{
	_cleanup_strv_ char **names = image_names(dir);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!names || !out) {
		if (out)
			fclose(out);
		free(text);
		return NULL;
	}
	fputs(IMAGE_HOST, out);
	for (char **n = names; *n; n++)
		fprintf(out, ", %s", *n);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
