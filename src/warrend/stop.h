/* warrend as a client of the running one: --drain and systemd's ExecStop
 * (--stop). See warrend(8) RESTARTS. */
#pragma once

/* SIGUSR1 to the warrend of state_dir (its warrend.pid), then waits for
 * it to exit. The exit status to return. */
int warrend_drain(const char *state_dir);
/* systemd's ExecStop=warrend --stop $MAINPID: SIGUSR2 (sessions stay)
 * when systemd is restarting the unit, else SIGTERM (sessions end); then
 * waits for the daemon to exit. An empty pid (it is not running: it
 * crashed) is nothing to do. */
int warrend_stop(const char *pid);
