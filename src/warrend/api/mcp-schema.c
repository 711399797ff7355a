/* Tool arguments against the tools' inputSchema (mcp-tools.json): the
 * subset of JSON Schema those use, so the definitions a client reads are
 * the checks the server makes, and every tool starts from arguments of
 * the right types. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mcp.h"

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static bool type_matches(const char *want, const json_t *v)
{
	const char *have = type_of(v);
	return !strcmp(want, have) || (!strcmp(want, "number") && !strcmp(have, "integer"));
}

/* "arguments", "env", "env.HOME": where a value sits, for messages. */
static void join(char *out, size_t len, const char *where, const char *key)
{
	if (where && *where)
		snprintf(out, len, "%s.%s", where, key);
	else
		snprintf(out, len, "%s", key);
}

static int fail(char *msg, size_t len, const char *where, const char *what)
{
	snprintf(msg, len, "%s: %s", where && *where ? where : "arguments", what);
	return -1;
}

static int check_type(const json_t *schema, const json_t *value, const char *where, char *msg, size_t len)
{
	const json_t *type = json_object_get(schema, "type");
	if (!type)
		return 0;
	char expected[128] = "";
	size_t i;
	const json_t *t;
	if (json_is_string(type) && type_matches(json_string_value(type), value))
		return 0;
	json_array_foreach(type, i, t)
		if (type_matches(json_string_value(t), value))
			return 0;
	if (json_is_string(type))
		snprintf(expected, sizeof expected, "expected %s %s", strchr("aeiou", json_string_value(type)[0]) ?
			 "an" : "a", json_string_value(type));
	else
		snprintf(expected, sizeof expected, "expected another type than %s", type_of(value));
	return fail(msg, len, where, expected);
}

static int check_object(const json_t *schema, const json_t *value, const char *where, char *msg, size_t len)
{
	const json_t *props = json_object_get(schema, "properties"), *extra = json_object_get(schema, "additionalProperties");
	const json_t *required = json_object_get(schema, "required"), *v;
	const char *key;
	char at[256];
	size_t i;
	json_array_foreach(required, i, v)
		if (!json_object_get(value, json_string_value(v))) {
			join(at, sizeof at, where, json_string_value(v));
			return fail(msg, len, at, "required");
		}
	json_object_foreach((json_t *)value, key, v) {
		const json_t *sub = json_object_get(props, key);
		join(at, sizeof at, where, key);
		if (!sub && json_is_false(extra))
			return fail(msg, len, at, "unknown argument");
		if (!sub && json_is_object(extra))
			sub = extra;
		if (sub && mcp_schema_check(sub, v, at, msg, len) < 0)
			return -1;
	}
	return 0;
}

int mcp_schema_check(const json_t *schema, const json_t *value, const char *where, char *msg, size_t len)
{
	if (check_type(schema, value, where, msg, len) < 0)
		return -1;
	const json_t *list = json_object_get(schema, "enum"), *v, *min = json_object_get(schema, "minimum");
	size_t i;
	if (list) {
		bool found = false;
		json_array_foreach(list, i, v)
			found = found || json_equal((json_t *)v, (json_t *)value);
		if (!found) {
			char what[256] = "expected one of";
			size_t used = strlen(what);
			json_array_foreach(list, i, v) {
				int n = snprintf(what + used, sizeof what - used, "%s %s", i ? "," : "",
						 json_string_value(v) ? json_string_value(v) : "?");
				if (n < 0 || (used += (size_t)n) >= sizeof what)
					break;
			}
			return fail(msg, len, where, what);
		}
	}
	if (json_is_number(min) && json_is_number(value) && json_number_value(value) < json_number_value(min)) {
		char what[64];
		snprintf(what, sizeof what, "at least %g", json_number_value(min));
		return fail(msg, len, where, what);
	}
	if (json_is_object(value))
		return check_object(schema, value, where, msg, len);
	const json_t *items = json_object_get(schema, "items");
	if (json_is_array(value) && items)
		json_array_foreach(value, i, v) {
			char at[256];
			snprintf(at, sizeof at, "%s[%zu]", where && *where ? where : "arguments", i);
			if (mcp_schema_check(items, v, at, msg, len) < 0)
				return -1;
		}
	return 0;
}
