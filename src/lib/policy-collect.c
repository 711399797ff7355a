/* The "collect" section of a policy (warren-policy(5)): how much of what
 * a command leaves in its sandbox may be collected at its end (warrend's
 * "collect" and artifacts, warren run --collect). */
#include "config.h"
#include "policy-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "cleanup.h"
#include "units.h"

/* What the code-execution services warren replaces allowed. */
#define DEFAULT_FILE_MAX (10ULL << 20)
#define DEFAULT_TOTAL_MAX (50ULL << 20)
#define DEFAULT_COUNT_MAX 10
#define MAX_COUNT 100000

void policy_collect_defaults(struct policy *p)
{
	p->collect = (struct policy_collect){
		.file_max = DEFAULT_FILE_MAX, .total_max = DEFAULT_TOTAL_MAX, .count_max = DEFAULT_COUNT_MAX,
	};
}

static int parse_size_field(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	uint64_t value;
	int r = policy_json_size(ps, path, v, "10M", &value);
	if (r < 0)
		return r;
	if (value == 0)
		return policy_fail(ps, path, "must be more than 0 (leave \"paths\" out of a request to collect nothing)");
	*(uint64_t *)((char *)&ps->p->collect + f->offset) = value;
	return 0;
}

static int parse_count_field(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	if (!json_is_integer(v))
		return policy_fail(ps, path, "expected an integer, got %s", policy_type_name(v));
	if (json_integer_value(v) < 1 || json_integer_value(v) > MAX_COUNT)
		return policy_fail(ps, path, "must be between 1 and %d, got %" JSON_INTEGER_FORMAT, MAX_COUNT,
				   json_integer_value(v));
	ps->p->collect.count_max = (uint32_t)json_integer_value(v);
	return 0;
}

static const struct field collect_fields[] = {
	{ .key = "file_max", .parse = parse_size_field, .offset = offsetof(struct policy_collect, file_max) },
	{ .key = "total_max", .parse = parse_size_field, .offset = offsetof(struct policy_collect, total_max) },
	{ .key = "count_max", .parse = parse_count_field },
};

int policy_parse_collect(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	return policy_parse_object(ps, path, v, collect_fields, ARRAY_SIZE(collect_fields));
}

json_t *policy_collect_to_json(const struct policy *p)
{
	char file_max[32], total_max[32];
	format_size(p->collect.file_max, file_max, sizeof file_max);
	format_size(p->collect.total_max, total_max, sizeof total_max);
	return json_pack("{s:s, s:s, s:i}", "file_max", file_max, "total_max", total_max, "count_max",
			 (int)p->collect.count_max);
}
