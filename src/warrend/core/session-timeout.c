/* A session's end set from outside: "this sandbox may live N more
 * seconds" (MCP's sandbox_set_timeout; E2B's timeout is the same idea).
 * It moves the session's maximum lifetime, so the expiry in sessions.c
 * needs nothing new; the idle timeout still applies on top. */
#include "config.h"

#include "daemon.h"
#include "session-internal.h"
#include "units.h"

int session_set_timeout(struct session *s, uint64_t timeout_ms, struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	uint64_t now = daemon_now_ms();
	uint64_t age = now > s->created_ms ? now - s->created_ms : 0;
	if (timeout_ms == 0)
		return wd_fail(err, 400, "timeout: expected a duration above 0");
	if (timeout_ms > cfg->max_lifetime_ms || age > cfg->max_lifetime_ms - timeout_ms) {
		char limit[32], left[32];
		format_duration(cfg->max_lifetime_ms, limit, sizeof limit);
		format_duration(age < cfg->max_lifetime_ms ? cfg->max_lifetime_ms - age : 0, left, sizeof left);
		return wd_fail(err, 400, "timeout: session %s may live at most %s from its creation (max_lifetime): "
			       "%s more at most", s->id, limit, left);
	}
	s->max_lifetime_ms = age + timeout_ms;
	session_touch(s);
	return 0;
}
