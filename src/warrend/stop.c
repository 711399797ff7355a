#include "config.h"

/* warrend --drain and --stop (stop.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
#endif

#include "cleanup.h"
#include "stop.h"

static bool alive(pid_t pid)
{
	char path[64], state = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[512];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		state = p[2];
	return state && state != 'Z' && state != 'X';
}

static int wait_exit(pid_t pid)
{
	while (alive(pid))
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	return 0;
}

int warrend_drain(const char *state_dir)
{
	char path[4096], text[32] = "";
	snprintf(path, sizeof path, "%s/warrend.pid", state_dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
	pid_t pid = n > 0 ? (pid_t)atoi(text) : 0;
	if (pid <= 0 || !alive(pid)) {
		fprintf(stderr, "warrend: no warrend runs on the state directory %s\n", state_dir);
		return 1;
	}
	if (kill(pid, SIGUSR1) < 0) {
		fprintf(stderr, "warrend: signal warrend (pid %d): %s\n", (int)pid, strerror(errno));
		return 1;
	}
	fprintf(stderr, "warrend: warrend (pid %d) takes no new sessions and exits once every session has "
			"ended; waiting\n", (int)pid);
	return wait_exit(pid);
}

#ifdef HAVE_LIBSYSTEMD
/* systemd's own socket first (root only, as ExecStop runs): a host without
 * a D-Bus daemon has no system bus, and then a restart would be taken for
 * a stop and end every session; the system bus otherwise. */
static int systemd_bus(sd_bus **out)
{
	sd_bus *bus = NULL;
	if (sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, "unix:path=/run/systemd/private") >= 0 &&
	    sd_bus_start(bus) >= 0) {
		*out = bus;
		return 0;
	}
	sd_bus_unref(bus);
	return sd_bus_open_system(out);
}
#endif

/* Whether systemd is restarting the unit of pid (its job's type). */
static bool unit_restarting(pid_t pid)
{
#ifdef HAVE_LIBSYSTEMD
	sd_bus *bus = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *unit = NULL;
	char *job_type = NULL;
	bool restarting = false;
	uint32_t job_id = 0;
	const char *job_path = NULL;
	if (systemd_bus(&bus) < 0 ||
	    sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "GetUnitByPID", &err, &reply, "u", (uint32_t)pid) < 0 ||
	    sd_bus_message_read(reply, "o", &unit) < 0)
		goto out;
	char *path = strdup(unit);
	sd_bus_message_unref(reply);
	reply = NULL;
	if (!path)
		goto out;
	int r = sd_bus_get_property(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit", "Job", &err,
				    &reply, "(uo)");
	free(path);
	if (r < 0 || sd_bus_message_read(reply, "(uo)", &job_id, &job_path) < 0 || job_id == 0)
		goto out;
	if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job_path, "org.freedesktop.systemd1.Job",
				       "JobType", &err, &job_type) < 0)
		goto out;
	/* restart, try-restart, reload-or-restart, try-reload-or-restart */
	restarting = strstr(job_type, "restart") != NULL;
out:
	free(job_type);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	sd_bus_unref(bus);
	return restarting;
#else
	(void)pid;
	return false;
#endif
}

int warrend_stop(const char *arg)
{
	char *end;
	long pid = arg ? strtol(arg, &end, 10) : 0;
	if (!arg || !*arg || *end || pid <= 1 || !alive((pid_t)pid))
		return 0; /* not running (it crashed): its sandboxes wait for the next start */
	bool restart = unit_restarting((pid_t)pid);
	int sig = restart ? SIGUSR2 : SIGTERM;
	fprintf(stderr, "warrend: %s: %s warrend (pid %ld)\n", restart ? "a restart" : "a stop",
		restart ? "sessions stay for the next" : "ending the sessions of", pid);
	if (kill((pid_t)pid, sig) < 0) {
		fprintf(stderr, "warrend: signal warrend (pid %ld): %s\n", pid, strerror(errno));
		return 1;
	}
	return wait_exit((pid_t)pid);
}
