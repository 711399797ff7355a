/* Relaying a sandbox's terminal to the caller's own (warren run -t): bytes
 * both ways through a pty master, the caller's window size, and the
 * caller's terminal in raw mode while it lasts, so that every key (Ctrl-C
 * included) reaches the sandbox's terminal, which does what a terminal
 * does with it. The caller's fds stay blocking (their open file
 * descriptions are shared with the shell): they are read and written only
 * when poll says they are ready. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#define PTY_RELAY_BUF 16384

struct pty_relay {
	int in;                /* the caller's stdin, -1 when not attached */
	int out;               /* the caller's stdout */
	int master;            /* ours, non-blocking; -1 until it arrives */
	bool in_done;          /* stdin reached its end */
	bool master_done;      /* the slave side is closed everywhere (EIO) */
	bool out_broken;       /* stdout refused a write: output is dropped */
	bool raw;              /* `in` is a terminal we set raw: restore it */
	char last_in;          /* the last byte passed on from stdin */
	struct termios saved;
	size_t to_master_len, to_out_len;
	char to_master[PTY_RELAY_BUF];
	char to_out[PTY_RELAY_BUF];
};

/* Nothing is touched yet. */
void pty_relay_init(struct pty_relay *r, int in, int out);
/* When `in` is a terminal: raw mode (restored by pty_relay_restore);
 * 0, or -errno from tcsetattr. Else nothing. */
int pty_relay_make_raw(struct pty_relay *r);
/* Puts the caller's terminal back as it was; safe to call again. */
void pty_relay_restore(struct pty_relay *r);
/* Takes the master over (makes it non-blocking): 0 or -errno. */
int pty_relay_set_master(struct pty_relay *r, int master);
/* The window size of the caller's terminal (stdin, stdout, then stderr):
 * 0 when one is a terminal, else -ENOTTY. */
int pty_relay_caller_size(const struct pty_relay *r, unsigned short *cols, unsigned short *rows);
/* SIGWINCH: gives the master the caller's current size. */
void pty_relay_resize(struct pty_relay *r);
/* The fds to wait for (at most 3) in fds; returns how many. With
 * `draining`, stdin is no longer read. */
size_t pty_relay_pollfds(const struct pty_relay *r, bool draining, struct pollfd *fds);
/* Moves what poll found ready. Never blocks on the master; on the
 * caller's fds only after poll said ready. Returns how many bytes moved. */
size_t pty_relay_io(struct pty_relay *r, const struct pollfd *fds, size_t n);
/* Closes the master. */
void pty_relay_close(struct pty_relay *r);
