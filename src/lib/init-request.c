#include "config.h"
#include "init-request.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Requests come from the daemon, but parse them defensively anyway. */
int init_parse_request(char *buf, size_t len, struct init_exec_request *hdr, char **argv, char **envp,
		       const char **cwd)
{
	if (len < sizeof *hdr)
		return -EBADMSG;
	memcpy(hdr, buf, sizeof *hdr);
	if (hdr->type != INIT_REQ_EXEC || hdr->argc == 0 ||
	    (uint64_t)hdr->argc + hdr->envc + 2 > INIT_MAX_ARGS ||
	    hdr->strings_len != len - sizeof *hdr || hdr->strings_len == 0 ||
	    buf[len - 1] != '\0')
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
