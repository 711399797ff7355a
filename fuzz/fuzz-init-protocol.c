/* The init protocol (init-protocol.h), both directions:
 *   byte 0 even: the rest is a request as init decodes it (init-request.c):
 *                by its type, INIT_REQ_EXEC (init_parse_request, with its
 *                flags and pty size) or INIT_REQ_SIGNAL (init_parse_signal);
 *   byte 0 odd:  the rest, cut or zero-padded to one struct init_event, is
 *                an event from init as the parent reads it: the daemon
 *                validates it (sandbox_event_validate) before it builds a
 *                message or a result from it; `warren run` terminates the
 *                strings itself and reads it directly.
 * Events are untrusted: a compromised init writes whatever it likes. */
#include "fuzz.h"

#include <errno.h>

#include "init-request.h"
#include "sandbox.h"

static char *argv_buf[INIT_MAX_ARGS], *envp_buf[INIT_MAX_ARGS];

static void check_strings(char *const *v, uint32_t n, const char *buf, size_t len)
{
	for (uint32_t i = 0; i < n; i++) {
		FUZZ_ASSERT(v[i] >= buf && v[i] < buf + len);
		FUZZ_ASSERT(memchr(v[i], '\0', (size_t)(buf + len - v[i])));
	}
	FUZZ_ASSERT(v[n] == NULL);
}

static void request(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
	FUZZ_ASSERT(buf);
	memcpy(buf, data, size);
	struct init_exec_request hdr = { 0 };
	const char *cwd = NULL;
	if (init_request_type(buf, size) == INIT_REQ_SIGNAL) {
		struct init_signal_request sig;
		int r = init_parse_signal(buf, size, &sig);
		FUZZ_ASSERT(r == 0 || r == -EBADMSG);
		if (r == 0)
			FUZZ_ASSERT(sig.signal >= 1 && sig.signal <= INIT_MAX_SIGNAL && !sig.reserved);
		free(buf);
		return;
	}
	if (init_request_type(buf, size) == INIT_REQ_CLOSE_STDIN) {
		uint32_t id = 0;
		int r = init_parse_close_stdin(buf, size, &id);
		FUZZ_ASSERT(r == 0 || r == -EBADMSG);
		FUZZ_ASSERT(r != 0 || size == sizeof(struct init_close_stdin_request));
		free(buf);
		return;
	}
	int r = init_parse_request(buf, size, &hdr, argv_buf, envp_buf, &cwd);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r == 0) {
		FUZZ_ASSERT(hdr.type == INIT_REQ_EXEC && hdr.argc > 0);
		FUZZ_ASSERT((uint64_t)hdr.argc + hdr.envc + 2 <= INIT_MAX_ARGS);
		FUZZ_ASSERT(cwd >= buf && cwd < buf + size);
		FUZZ_ASSERT(!(hdr.flags & ~(uint32_t)INIT_EXEC_FLAGS));
		FUZZ_ASSERT((hdr.flags & INIT_EXEC_PTY) || (!hdr.pty_cols && !hdr.pty_rows));
		int n_fds = init_request_n_fds(&hdr), n_kept = init_request_n_kept(&hdr);
		FUZZ_ASSERT(n_fds >= 1 && n_fds <= INIT_MAX_FDS);
		FUZZ_ASSERT(n_kept >= 0 && n_kept <= INIT_MAX_KEPT && n_kept < n_fds);
		FUZZ_ASSERT(!(hdr.flags & INIT_EXEC_KEEP_STDIN) || n_kept == 3);
		check_strings(argv_buf, hdr.argc, buf, size);
		check_strings(envp_buf, hdr.envc, buf, size);
	}
	free(buf);
}

static void event(const uint8_t *data, size_t size)
{
	struct init_event ev = { 0 };
	memcpy(&ev, data, size < sizeof ev ? size : sizeof ev);
	wr_error e = { 0 };
	struct sandbox_result res = { 0 };

	if (sandbox_event_validate(&ev) == 0) {
		FUZZ_ASSERT(ev.type >= INIT_EV_SETUP_FAILED && ev.type <= INIT_EV_EXITED);
		int r = sandbox_event_error(&ev, &e);
		FUZZ_ASSERT(r < 0 && memchr(e.message, '\0', sizeof e.message));
	}
	/* warren run's path: strings cut, no validation. */
	struct init_event copy = ev;
	int r = sandbox_event_result(&copy, &res, &e);
	FUZZ_ASSERT(r >= -4095 && r <= 1 && memchr(e.message, '\0', sizeof e.message));
	FUZZ_ASSERT(r != 0 || ev.type == INIT_EV_READY);
	ev.step[sizeof ev.step - 1] = ev.path[sizeof ev.path - 1] = '\0';
	r = sandbox_event_error(&ev, &e);
	FUZZ_ASSERT(r < 0 && memchr(e.message, '\0', sizeof e.message));
	res = (struct sandbox_result){ 0 };
	sandbox_result_from_status(&res, ev.status);
	if (res.exited || res.signal)
		FUZZ_ASSERT(res.exit_status >= 0 && res.exit_status <= 255);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		event(data + 1, size - 1);
	else
		request(data + 1, size - 1);
	return 0;
}
