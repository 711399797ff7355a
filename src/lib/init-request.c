#include "config.h"
#include "init-request.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

uint32_t init_request_type(const char *buf, size_t len)
{
	uint32_t type;
	if (len < sizeof type)
		return 0;
	memcpy(&type, buf, sizeof type);
	return type;
}

/* Requests come from the daemon, but parse them defensively anyway. */
int init_parse_request(char *buf, size_t len, struct init_exec_request *hdr, char **argv, char **envp,
		       const char **cwd)
{
	if (len < sizeof *hdr) {
		memcpy(hdr, buf, len);
		return -EBADMSG;
	}
	memcpy(hdr, buf, sizeof *hdr);
	if (hdr->type != INIT_REQ_EXEC || hdr->argc == 0 ||
	    (uint64_t)hdr->argc + hdr->envc + 2 > INIT_MAX_ARGS ||
	    hdr->strings_len != len - sizeof *hdr || hdr->strings_len == 0 ||
	    buf[len - 1] != '\0')
		return -EBADMSG;
	if ((hdr->flags & ~(uint32_t)INIT_EXEC_FLAGS) ||
	    (!(hdr->flags & INIT_EXEC_PTY) && (hdr->pty_cols || hdr->pty_rows)) ||
	    ((hdr->flags & INIT_EXEC_KEEP_STDIN) && (!(hdr->flags & INIT_EXEC_KEEP) || (hdr->flags & INIT_EXEC_PTY))))
		return -EBADMSG;
	char *s = buf + sizeof *hdr, *end = buf + len;
	*cwd = s;
	s += strlen(s) + 1;
	for (uint32_t i = 0; i < hdr->argc; i++) {
		if (s >= end)
			return -EBADMSG;
		argv[i] = s;
		s += strlen(s) + 1;
	}
	argv[hdr->argc] = NULL;
	for (uint32_t i = 0; i < hdr->envc; i++) {
		if (s >= end)
			return -EBADMSG;
		envp[i] = s;
		s += strlen(s) + 1;
	}
	envp[hdr->envc] = NULL;
	return s == end ? 0 : -EBADMSG;
}

int init_request_n_fds(const struct init_exec_request *hdr)
{
	bool pty = hdr->flags & INIT_EXEC_PTY;
	return (pty ? 1 : 3) + ((hdr->flags & INIT_EXEC_CGROUP_FD) ? 1 : 0) + init_request_n_kept(hdr);
}

int init_request_n_kept(const struct init_exec_request *hdr)
{
	if (!(hdr->flags & INIT_EXEC_KEEP) || (hdr->flags & INIT_EXEC_PTY))
		return 0;
	return (hdr->flags & INIT_EXEC_KEEP_STDIN) ? 3 : 2;
}

int init_parse_close_stdin(const char *buf, size_t len, uint32_t *exec_id)
{
	struct init_close_stdin_request req;
	if (len != sizeof req)
		return -EBADMSG;
	memcpy(&req, buf, sizeof req);
	if (req.type != INIT_REQ_CLOSE_STDIN)
		return -EBADMSG;
	*exec_id = req.exec_id;
	return 0;
}

int init_parse_signal(const char *buf, size_t len, struct init_signal_request *req)
{
	if (len != sizeof *req)
		return -EBADMSG;
	memcpy(req, buf, sizeof *req);
	if (req->type != INIT_REQ_SIGNAL || req->signal < 1 || req->signal > INIT_MAX_SIGNAL || req->reserved)
		return -EBADMSG;
	return 0;
}

int init_parse_keep(const char *buf, size_t len, int n_fds)
{
	struct init_keep_request req;
	if (len != sizeof req)
		return -EBADMSG;
	memcpy(&req, buf, sizeof req);
	if (req.type != INIT_REQ_KEEP || req.held > INIT_MAX_HELD)
		return -EBADMSG;
	int held = (int)req.held;
	return n_fds >= 1 + held && n_fds <= 2 + held ? held : -EBADMSG;
}
