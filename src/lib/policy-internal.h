/* Shared by policy-parse.c (reading and validating a document) and
 * policy.c (loading, tightening, writing back): the field tables are the
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

struct parser;

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

/* Why `path` cannot be hidden (see "hide" in warren-policy(5)), or NULL. */
const char *policy_hide_problem(const char *path);

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
