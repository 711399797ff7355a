/* Terminals of a sandbox: a pty pair opened inside, in the sandbox's own
 * devpts instance (never the host's), whose master travels to whoever
 * relays it (warren run, warrend) over a socket with SCM_RIGHTS. The
 * command side lives in init.c; what holds the master uses the rest. */
#pragma once
#include <stdint.h>

/* init's half (system calls only: safe between clone and exec). Opens a new
 * pty in the devpts mounted at /dev/pts, unlocks it, sets its window size
 * (cols and rows 0: the kernel's default, 0x0), and opens its slave
 * without making it anyone's controlling terminal. Both fds close on
 * exec. 0, or -errno with *step naming what failed. */
int pty_open(uint16_t cols, uint16_t rows, int *master, int *slave, const char **step);
/* Sends fd as the one SCM_RIGHTS fd of a one-byte message. 0 or -errno. */
int pty_send_fd(int sock, int fd);

/* The receiving half, for a SOCK_SEQPACKET socket whose peer is init (or
 * an OCI runtime's --console-socket client: the payload is ignored). Never
 * blocks. 0 with *master (close-on-exec; blocking as sent), -EAGAIN when
 * nothing came yet, -EPIPE when the peer closed without sending (the
 * command did not start), -EBADMSG when what came is not one pty master
 * (every fd received is closed then), or another -errno. */
int pty_receive_master(int sock, int *master);
/* The same for any one fd (the payload ignored): 0 with *fd, -EAGAIN,
 * -EPIPE, or -EBADMSG when what came is not exactly one fd. */
int pty_receive_fd(int sock, int *fd);

/* TIOCSWINSZ: the kernel tells the terminal's foreground job (SIGWINCH)
 * when the size changed. 0 or -errno. */
int pty_set_size(int master, uint16_t cols, uint16_t rows);
/* TIOCGWINSZ of a terminal: 0, or -errno (-ENOTTY: fd is no terminal). */
int pty_get_size(int fd, uint16_t *cols, uint16_t *rows);
