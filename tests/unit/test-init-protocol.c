/* The init protocol's requests (init-request.c), the pty master's passage
 * (pty.c), and, as root, a real persistent sandbox answering them: an exec
 * with a terminal and a signal to an exec's process group. */
#include "config.h"

#include "unit.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "init-request.h"
#include "policy.h"
#include "pty.h"
#include "sandbox.h"
#include "spawn.h"

static char *argv_buf[INIT_MAX_ARGS], *envp_buf[INIT_MAX_ARGS];

/* header + "/workspace\0sh\0" */
static size_t exec_message(char *buf, uint32_t flags, uint16_t cols, uint16_t rows)
{
	static const char strings[] = "/workspace\0sh";
	struct init_exec_request hdr = {
		.type = INIT_REQ_EXEC, .exec_id = 7, .argc = 1, .strings_len = sizeof strings,
		.flags = flags, .pty_cols = cols, .pty_rows = rows,
	};
	memcpy(buf, &hdr, sizeof hdr);
	memcpy(buf + sizeof hdr, strings, sizeof strings);
	return sizeof hdr + sizeof strings;
}

static int parse(char *buf, size_t len, struct init_exec_request *hdr)
{
	const char *cwd;
	return init_parse_request(buf, len, hdr, argv_buf, envp_buf, &cwd);
}

START_TEST(exec_with_a_pty_is_parsed)
{
	char buf[128];
	struct init_exec_request hdr = { 0 };
	size_t len = exec_message(buf, INIT_EXEC_PTY | INIT_EXEC_CGROUP_FD, 120, 40);
	ck_assert_uint_eq(init_request_type(buf, len), INIT_REQ_EXEC);
	ck_assert_int_eq(parse(buf, len, &hdr), 0);
	ck_assert_uint_eq(hdr.pty_cols, 120);
	ck_assert_uint_eq(hdr.pty_rows, 40);
	ck_assert_str_eq(argv_buf[0], "sh");
	/* the reply socket and the cgroup fd, not three stdio fds */
	ck_assert_int_eq(init_request_n_fds(&hdr), 2);
	hdr.flags = INIT_EXEC_PTY;
	ck_assert_int_eq(init_request_n_fds(&hdr), 1);
	hdr.flags = INIT_EXEC_CGROUP_FD;
	ck_assert_int_eq(init_request_n_fds(&hdr), 4);
	hdr.flags = 0;
	ck_assert_int_eq(init_request_n_fds(&hdr), 3);
}
END_TEST

START_TEST(exec_flags_and_sizes_are_checked)
{
	char buf[128];
	struct init_exec_request hdr = { 0 };
	/* an unknown flag */
	size_t len = exec_message(buf, 0x80, 0, 0);
	ck_assert_int_eq(parse(buf, len, &hdr), -EBADMSG);
	ck_assert_uint_eq(hdr.exec_id, 7); /* the refusal can name it */
	/* a window size without a pty */
	len = exec_message(buf, INIT_EXEC_CGROUP_FD, 80, 0);
	ck_assert_int_eq(parse(buf, len, &hdr), -EBADMSG);
	len = exec_message(buf, INIT_EXEC_CGROUP_FD, 0, 24);
	ck_assert_int_eq(parse(buf, len, &hdr), -EBADMSG);
	/* a pty of the kernel's default size */
	len = exec_message(buf, INIT_EXEC_PTY, 0, 0);
	ck_assert_int_eq(parse(buf, len, &hdr), 0);
	/* cut short, or a signal request in an exec's place */
	ck_assert_int_eq(parse(buf, sizeof hdr - 1, &hdr), -EBADMSG);
	struct init_signal_request sig = { .type = INIT_REQ_SIGNAL, .exec_id = 1, .signal = SIGINT };
	memcpy(buf, &sig, sizeof sig);
	ck_assert_int_eq(parse(buf, sizeof sig, &hdr), -EBADMSG);
	ck_assert_uint_eq(init_request_type(buf, 3), 0);
}
END_TEST

/* INIT_EXEC_KEEP: two more fds (the kept output ends), none with a pty
 * (init keeps the master); INIT_REQ_KEEP: the listener, maybe the ids' lock, then what init holds. */
START_TEST(keep_requests_are_counted_and_checked)
{
	struct init_exec_request hdr = { .flags = INIT_EXEC_CGROUP_FD | INIT_EXEC_KEEP };
	ck_assert_int_eq(init_request_n_fds(&hdr), 6);
	hdr.flags = INIT_EXEC_KEEP;
	ck_assert_int_eq(init_request_n_fds(&hdr), 5);
	hdr.flags = INIT_EXEC_PTY | INIT_EXEC_CGROUP_FD | INIT_EXEC_KEEP;
	ck_assert_int_eq(init_request_n_fds(&hdr), 2);
	char buf[128];
	size_t len = exec_message(buf, INIT_EXEC_CGROUP_FD | INIT_EXEC_KEEP, 0, 0);
	ck_assert_int_eq(parse(buf, len, &hdr), 0);

	struct init_keep_request keep = { .type = INIT_REQ_KEEP };
	ck_assert_uint_eq(init_request_type((char *)&keep, sizeof keep), INIT_REQ_KEEP);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 1), 0);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 2), 0);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 0), -EBADMSG);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 3), -EBADMSG);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep - 1, 1), -EBADMSG);
	/* held fds (an egress sandbox's slot lock and resolver socket) come last */
	keep.held = 2;
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 1), -EBADMSG);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 2), -EBADMSG);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 3), 2);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 4), 2);
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 5), -EBADMSG);
	keep.held = INIT_MAX_HELD + 1;
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 5), -EBADMSG);
	keep = (struct init_keep_request){ .type = INIT_REQ_SIGNAL };
	ck_assert_int_eq(init_parse_keep((char *)&keep, sizeof keep, 1), -EBADMSG);
}
END_TEST

START_TEST(signal_requests_are_checked)
{
	struct init_signal_request req = { .type = INIT_REQ_SIGNAL, .exec_id = 3, .signal = SIGINT }, out;
	char buf[64];
	memcpy(buf, &req, sizeof req);
	ck_assert_uint_eq(init_request_type(buf, sizeof req), INIT_REQ_SIGNAL);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req, &out), 0);
	ck_assert_uint_eq(out.exec_id, 3);
	ck_assert_int_eq(out.signal, SIGINT);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req - 1, &out), -EBADMSG);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req + 1, &out), -EBADMSG);
	int bad_signals[] = { 0, -1, INIT_MAX_SIGNAL + 1, 1 << 30 };
	for (size_t i = 0; i < ARRAY_SIZE(bad_signals); i++) {
		req.signal = bad_signals[i];
		memcpy(buf, &req, sizeof req);
		ck_assert_int_eq(init_parse_signal(buf, sizeof req, &out), -EBADMSG);
	}
	req.signal = INIT_MAX_SIGNAL;
	memcpy(buf, &req, sizeof req);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req, &out), 0);
	req.reserved = 1;
	memcpy(buf, &req, sizeof req);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req, &out), -EBADMSG);
	req = (struct init_signal_request){ .type = INIT_REQ_EXEC, .signal = SIGINT };
	memcpy(buf, &req, sizeof req);
	ck_assert_int_eq(init_parse_signal(buf, sizeof req, &out), -EBADMSG);
}
END_TEST

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* fds sent as one message of `payload` bytes; -1 ends the list */
static void send_fds(int sock, const int *fds, size_t n, size_t payload)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	char data[512] = "p";
	struct iovec iov = { .iov_base = data, .iov_len = payload };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &msg, 0), (ssize_t)payload);
}

START_TEST(master_is_received_and_checked)
{
	int sv[2], master = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), -EAGAIN);

	/* a real master (a pty of the host's, opened here only to be passed) */
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(pty_send_fd(sv[1], m), 0);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), 0);
	ck_assert_int_ne(master, m);
	ck_assert(fcntl(master, F_GETFD) & FD_CLOEXEC);
	close(master);

	int before = open_fds();
	/* what is not a master: a pipe, the slave, two masters, too long a payload */
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(grantpt(m) | unlockpt(m), 0);
	int slave = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(slave, 0);
	int two[2] = { m, m };
	send_fds(sv[1], &p[0], 1, 1);
	send_fds(sv[1], &slave, 1, 1);
	send_fds(sv[1], two, 2, 1);
	send_fds(sv[1], &m, 1, 300);
	send_fds(sv[1], NULL, 0, 1); /* bytes without an fd */
	close(p[0]);
	close(p[1]);
	close(slave);
	int after_send = open_fds();
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(pty_receive_master(sv[0], &master), -EBADMSG);
	/* every fd that came was closed again */
	ck_assert_int_eq(open_fds(), after_send);
	ck_assert_int_eq(after_send, before);

	/* an OCI runtime's console socket names the terminal: accepted */
	send_fds(sv[1], &m, 1, 12);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), 0);
	close(master);
	/* the peer closes without sending: the command did not start */
	close(sv[1]);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), -EPIPE);
	close(sv[0]);
	close(m);
}
END_TEST

/* ---- as root: a persistent sandbox --------------------------------------- */

/* The next event from init, within a generous ceiling. */
static struct init_event next_event(struct sandbox *sb)
{
	struct pollfd pfd = { .fd = sandbox_fd(sb), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
	struct init_event ev;
	ck_assert_int_eq(recv(sandbox_fd(sb), &ev, sizeof ev, 0), (ssize_t)sizeof ev);
	ck_assert_int_eq(sandbox_event_validate(&ev), 0);
	return ev;
}

static struct sandbox *ready_sandbox(struct policy **p)
{
	wr_error e = { 0 };
	ck_assert_msg(policy_load(NULL, p, &e) == 0, "%s", e.message);
	struct spawn_options o = { .policy = *p };
	struct sandbox *sb;
	ck_assert_msg(sandbox_create(&o, &sb, &e) == 0, "%s", e.message);
	ck_assert_int_eq(next_event(sb).type, INIT_EV_READY);
	return sb;
}

/* Reads the master until `want` was seen (a ceiling of 30 s). */
static void expect_output(int master, const char *want)
{
	char got[4096];
	size_t len = 0;
	while (len < sizeof got - 1) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
		ssize_t n = read(master, got + len, sizeof got - 1 - len);
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
		got[len] = '\0';
		if (strstr(got, want))
			return;
	}
	ck_abort_msg("never saw '%s' in '%s'", want, got);
}

START_TEST(pty_exec_and_signal_in_a_sandbox)
{
	struct policy *p = NULL;
	struct sandbox *sb = ready_sandbox(&p);
	wr_error e = { 0 };
	int sv[2], master = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* the terminal's name, its size, and whether it is the controlling
	 * one; then the shell waits for a line, a SIGINT ends the wait */
	char *argv[] = { "sh", "-c",
			 "tty; stty size; (exec 3</dev/tty) && echo ctty;"
			 " trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.05; done", NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct sandbox_exec x = { .id = 1, .argv = argv, .envp = envp, .cwd = "/", .stdio = { -1, -1, -1 },
				  .pty = true, .pty_cols = 101, .pty_rows = 33, .pty_reply = sv[1] };
	ck_assert_msg(sandbox_exec_start(sb, &x, &e) == 0, "%s", e.message);
	close(sv[1]);
	struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), 0);
	close(sv[0]);
	expect_output(master, "/dev/pts/0\r\n33 101\r\nctty\r\nready\r\n");

	ck_assert_int_eq(sandbox_exec_signal(sb, 1, 0), -EINVAL);
	ck_assert_int_eq(sandbox_exec_signal(sb, 1, INIT_MAX_SIGNAL + 1), -EINVAL);
	ck_assert_int_eq(sandbox_exec_signal(sb, 99, SIGTERM), 0); /* no such exec: nothing happens */
	ck_assert_int_eq(sandbox_exec_signal(sb, 1, SIGINT), 0);
	expect_output(master, "got-int");
	struct init_event ev = next_event(sb);
	ck_assert_int_eq(ev.type, INIT_EV_EXITED);
	ck_assert_uint_eq(ev.exec_id, 1);
	ck_assert(WIFEXITED(ev.status) && WEXITSTATUS(ev.status) == 9);
	close(master);

	/* a command that cannot start: no master, EOF on the reply socket */
	char *missing[] = { "no-such-command-xyz", NULL };
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	x = (struct sandbox_exec){ .id = 2, .argv = missing, .envp = envp, .cwd = "/", .stdio = { -1, -1, -1 },
				   .pty = true, .pty_reply = sv[1] };
	ck_assert_msg(sandbox_exec_start(sb, &x, &e) == 0, "%s", e.message);
	close(sv[1]);
	ev = next_event(sb);
	ck_assert_int_eq(ev.type, INIT_EV_EXEC_FAILED);
	ck_assert_int_eq(next_event(sb).type, INIT_EV_EXITED);
	ck_assert_int_eq(pty_receive_master(sv[0], &master), -EPIPE);
	close(sv[0]);

	sandbox_exec_release(sb, 1);
	sandbox_exec_release(sb, 2);
	sandbox_destroy(sb);
	policy_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("init-protocol");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, exec_with_a_pty_is_parsed);
	tcase_add_test(tc, exec_flags_and_sizes_are_checked);
	tcase_add_test(tc, keep_requests_are_counted_and_checked);
	tcase_add_test(tc, signal_requests_are_checked);
	tcase_add_test(tc, master_is_received_and_checked);
	suite_add_tcase(s, tc);
	/* a real sandbox: scripts/ci-valgrind leaves the "sandbox" tag out */
	TCase *live = tcase_create("sandbox");
	tcase_set_tags(live, "sandbox");
	unit_add_root_test(live, pty_exec_and_signal_in_a_sandbox);
	tcase_set_timeout(live, 60);
	suite_add_tcase(s, live);
	return unit_run(s);
}
