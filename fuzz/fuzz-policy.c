/* The policy parser (policy-parse.c, policy.c, seccomp.c's name check):
 * policies come from files an operator writes and, through `warren policy
 * check`, from anyone. Properties: no crash or leak on any document, an
 * error always carries a message, and an accepted policy survives a round
 * trip through policy_to_json (the effective policy the daemon and
 * `policy check` print) unchanged. */
#include "fuzz.h"

#include <jansson.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL, *again = NULL;
	wr_error e = { 0 };
	int r = policy_parse((const char *)data, size, "fuzz.json", &p, &e);
	if (r < 0) {
		FUZZ_ASSERT(p == NULL && e.message[0]);
		return 0;
	}
	json_t *j = policy_to_json(p);
	FUZZ_ASSERT(j);
	char *text = json_dumps(j, JSON_COMPACT);
	FUZZ_ASSERT(text);
	wr_error e2 = { 0 };
	if (policy_parse(text, strlen(text), "round-trip", &again, &e2) < 0) {
		fprintf(stderr, "round trip refused: %s\n%s\n", e2.message, text);
		abort();
	}
	json_t *j2 = policy_to_json(again);
	FUZZ_ASSERT(json_equal(j, j2));

	/* A request may tighten what was accepted, never loosen it. */
	struct policy_limits half = p->limits;
	if (half.memory / 2 >= 4 << 20) /* 4M: the smallest memory limit allowed */
		half.memory /= 2;
	half.timeout_ms /= 2;
	FUZZ_ASSERT(policy_tighten(again, &half, NULL, &e2) == 0);
	FUZZ_ASSERT(again->limits.memory <= p->limits.memory);
	struct policy_limits more = { .pids = p->limits.pids + 1 };
	if (more.pids > p->limits.pids)
		FUZZ_ASSERT(policy_tighten(again, &more, NULL, &e2) < 0);

	json_decref(j2);
	json_decref(j);
	free(text);
	policy_free(again);
	policy_free(p);
	return 0;
}
