/* Shared by policy-parse.c (reading and validating a document, with
 * policy-network.c, policy-collect.c and policy-mounts.c) and policy.c
 * (loading, tightening, writing back): the field tables are the
 * one description of limits and rlimits both sides use. Not a public API. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

#define POLICY_FORMAT_VERSION 1
#define POLICY_MAX_BYTES (1024 * 1024)

enum value_kind { VALUE_SIZE, VALUE_COUNT, VALUE_CPUS, VALUE_DURATION };

/* One document being read: errors go to e, prefixed with origin. */
struct parser {
	const char *origin;
	struct policy *p;
	struct policy_mount *mount;  /* the mounts[] item being parsed */
	wr_error *e;
};

/* One key of a JSON object: its parser and, for the table-driven limits and
 * rlimits, where the value goes and what range it may take. */
struct field {
	const char *key;
	int (*parse)(struct parser *ps, const char *path, json_t *v, const struct field *f);
	enum value_kind kind;
	size_t offset;       /* limits: in struct policy_limits; rlimits: the index */
	uint64_t min, max;
	size_t flag_offset;  /* limits: in struct policy_limit_names */
	int resource;        /* rlimits: RLIMIT_* */
	bool unlimited_ok;   /* rlimits: "unlimited" accepted */
};

extern const struct field policy_limit_fields[];
extern const size_t policy_n_limit_fields;
/* Indexed by enum policy_rlimit_index. */
extern const struct field policy_rlimit_fields[POLICY_RLIMIT_COUNT];

/* For the parts of the document read in their own files (policy-network.c):
 * the parser's helpers. policy_fail sets "<origin>: <path>: <message>"
 * and returns -EINVAL; policy_parse_object runs a field table over an
 * object, refusing unknown keys. */
int policy_fail(struct parser *ps, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int policy_parse_object(struct parser *ps, const char *path, json_t *obj, const struct field *fields, size_t n);
int policy_expect_string(struct parser *ps, const char *path, json_t *v, const char **out);
int policy_json_size(struct parser *ps, const char *path, json_t *v, const char *example, uint64_t *out);
const char *policy_type_name(const json_t *v);
/* A user's string as a one-line quoted excerpt ("..." past ~70 bytes). */
const char *policy_quote(const char *s, char *buf, size_t len);
#define POLICY_QUOTE(s) policy_quote((s), (char[80]){ 0 }, 80)
void policy_path_key(char *buf, size_t len, const char *parent, const char *key);
void policy_path_index(char *buf, size_t len, const char *parent, size_t i);
#define JSON_PATH_MAX 256

/* network (policy-network.c) */
int policy_parse_network(struct parser *ps, const char *path, json_t *v, const struct field *f);
json_t *policy_network_to_json(const struct policy *p);
void policy_network_free(struct policy_network *n);
void policy_network_defaults(struct policy *p);

/* collect (policy-collect.c) */
int policy_parse_collect(struct parser *ps, const char *path, json_t *v, const struct field *f);
json_t *policy_collect_to_json(const struct policy *p);
void policy_collect_defaults(struct policy *p);

/* mounts, hide (policy-mounts.c) */
int policy_parse_mounts(struct parser *ps, const char *path, json_t *v, const struct field *f);
int policy_parse_hide(struct parser *ps, const char *path, json_t *v, const struct field *f);
/* Why `path` cannot be hidden (see "hide" in warren-policy(5)), or NULL. */
const char *policy_hide_problem(const char *path);
/* *slot becomes a copy of value (the old one freed). */
int policy_replace_string(struct parser *ps, char **slot, const char *value);
/* An array of unique strings, each accepted by `valid` (which may set the
 * error itself and return false), into *out (NULL-terminated) and *n_out. */
int policy_parse_unique_strings(struct parser *ps, const char *path, json_t *v,
				bool (*valid)(struct parser *ps, const char *path, const char *s), char ***out,
				size_t *n_out);

/* "EPERM" for EPERM, NULL for an errno a policy cannot name. */
const char *policy_errno_name(int value);

/* policy_parse with the name a document without "name" gets. */
int policy_parse_named(const char *text, size_t len, const char *origin, const char *default_name,
		       struct policy **out, wr_error *e);

/* Sets a message that already says everything (no strerror suffix). */
int policy_error(wr_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void policy_format_value(enum value_kind kind, uint64_t v, char *buf, size_t len);

static inline uint64_t policy_limit_get(const struct policy_limits *l, const struct field *f)
{
	const char *at = (const char *)l + f->offset;
	return f->kind == VALUE_CPUS ? *(const uint32_t *)at : *(const uint64_t *)at;
}

static inline void policy_limit_set(struct policy_limits *l, const struct field *f, uint64_t v)
{
	char *at = (char *)l + f->offset;
	if (f->kind == VALUE_CPUS)
		*(uint32_t *)at = (uint32_t)v;
	else
		*(uint64_t *)at = v;
}

/* jansson 2.9+ provides json_decrefp (behind its json_auto_t) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))
