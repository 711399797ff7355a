/* A terminal for an OCI runtime's exec (runc exec --console-socket): the
 * runtime opens the pty inside the container (its own devpts instance)
 * and sends the master to a unix socket we listen on; we pass it on to
 * the daemon's reply socket (backend.h, exec_start_terminal). Used by
 * backend-oci.c's exec waiter, a child of the daemon: blocking is fine. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* A listening unix socket at path (removed first; mode 0600): the fd,
 * or -errno (-ENAMETOOLONG for a path sun_path cannot hold). */
int oci_console_listen(const char *path);
/* Waits (at most timeout_ms) for the runtime `runtime` to connect to
 * `listener` and send a pty master, sizes it cols x rows (0: left as
 * is) and sends it on `reply`. 0 once sent; -ECHILD when the runtime
 * ended without connecting (it is reaped: *status has its wait status),
 * or another -errno (-EPIPE: it closed without sending). The master is
 * closed here either way, but for a copy at fd keep_at (close-on-exec;
 * -1: none) that a kept command's waiter holds (oci-keep.c). */
int oci_console_pass(int listener, pid_t runtime, int *status, int reply, uint16_t cols, uint16_t rows,
		     unsigned timeout_ms, int keep_at);
