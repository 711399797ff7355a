#include "config.h"

/* The ground floor: the daemon's state, clock and log (daemon.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif
#include <jansson.h>

#include "clock.h"
#include "cleanup.h"
#include "daemon.h"

static struct daemon the_daemon;
struct daemon *daemon_state = &the_daemon;

static struct log_ctx current;
static bool to_journal;

uint64_t daemon_now_ms(void)
{
	return monotonic_ms();
}

struct log_ctx log_ctx_enter(const char *request_id, const char *session_id)
{
	struct log_ctx saved = current;
	current = (struct log_ctx){ request_id, session_id };
	return saved;
}

void log_ctx_restore(struct log_ctx *saved)
{
	current = *saved;
}

const struct log_ctx *log_ctx_current(void)
{
	return &current;
}

/* systemd's rule: stderr is the journal when its device and inode are
 * the ones JOURNAL_STREAM names (a child whose stderr was redirected
 * inherits the variable but not the stream). */
void daemon_log_setup(void)
{
#ifdef HAVE_LIBSYSTEMD
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
#endif
}

static void wall_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

/* One JSON object per line; fields with a NULL value are left out. */
static void emit_json(json_t *o)
{
	_cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text)
		fprintf(stderr, "%s\n", text);
}

void daemon_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	const char *rid = current.request_id, *sid = current.session_id;
#ifdef HAVE_LIBSYSTEMD
	if (to_journal) {
		sd_journal_send("MESSAGE=%s", line, "PRIORITY=6", "SYSLOG_IDENTIFIER=warrend", "WARREN_REQUEST_ID=%s",
				rid ? rid : "", "WARREN_SESSION_ID=%s", sid ? sid : "", NULL);
		return;
	}
#endif
	if (daemon_state->cfg.log_format == LOG_FORMAT_JSON) {
		char when[40];
		wall_time(when, sizeof when);
		emit_json(json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "time", when, "level", "info", "message", line,
				    "request_id", rid, "session_id", sid));
		return;
	}
	if (rid || sid)
		fprintf(stderr, "warrend: %s [request_id=%s session_id=%s]\n", line, rid ? rid : "-", sid ? sid : "-");
	else
		fprintf(stderr, "warrend: %s\n", line);
}

/* A request's method or path for a text line: bytes outside printable
 * ASCII, and the blank and quote that would split a field, as %XX. */
static void log_escape(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '"')
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

void daemon_log_access(const struct access_entry *a)
{
	char when[40], method[64], path[1024];
	wall_time(when, sizeof when);
	log_escape(a->method, a->method_len, method, sizeof method);
	log_escape(a->path, a->path_len, path, sizeof path);
	const char *token = a->token ? a->token : "-", *sid = a->session_id ? a->session_id : "-";
#ifdef HAVE_LIBSYSTEMD
	if (to_journal) {
		sd_journal_send("MESSAGE=%s %s %d", method, path, a->status, "PRIORITY=6", "SYSLOG_IDENTIFIER=warrend",
				"WARREN_ACCESS=1", "WARREN_REQUEST_ID=%s", a->request_id, "WARREN_TOKEN=%s", token,
				"WARREN_METHOD=%s", method, "WARREN_PATH=%s", path, "WARREN_STATUS=%d", a->status,
				"WARREN_BYTES=%llu", (unsigned long long)a->bytes, "WARREN_DURATION_MS=%.3f",
				a->duration_ms, "WARREN_SESSION_ID=%s", a->session_id ? a->session_id : "", NULL);
		return;
	}
#endif
	if (daemon_state->cfg.log_format == LOG_FORMAT_JSON) {
		emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:f, s:s?}", "time", when, "type", "access",
				    "request_id", a->request_id, "token", token, "method", method, "path", path,
				    "status", a->status, "bytes", (json_int_t)a->bytes, "duration_ms",
				    a->duration_ms, "session_id", a->session_id));
		return;
	}
	fprintf(stderr, "warrend: access time=%s request_id=%s token=%s method=%s path=%s status=%d bytes=%llu "
		"duration_ms=%.3f session_id=%s\n", when, a->request_id, token, method, path, a->status,
		(unsigned long long)a->bytes, a->duration_ms, sid);
}

void daemon_log_dns_denied(const char *request_id, const char *session_id, const char *name, unsigned suppressed)
{
	if (!daemon_state->cfg.access_log)
		return;
	char when[40], text[1024];
	wall_time(when, sizeof when);
	log_escape(name, strlen(name), text, sizeof text); /* the sandbox chose it */
	const char *rid = request_id ? request_id : "-";
#ifdef HAVE_LIBSYSTEMD
	if (to_journal) {
		sd_journal_send("MESSAGE=dns denied %s", text, "PRIORITY=6", "SYSLOG_IDENTIFIER=warrend", "WARREN_ACCESS=1",
				"WARREN_DNS_DENIED=%s", text, "WARREN_REQUEST_ID=%s", rid, "WARREN_SESSION_ID=%s",
				session_id, "WARREN_SUPPRESSED=%u", suppressed, NULL);
		return;
	}
#endif
	if (daemon_state->cfg.log_format == LOG_FORMAT_JSON) {
		emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "time", when, "type", "dns", "verdict", "denied",
				    "name", text, "request_id", rid, "session_id", session_id, "suppressed",
				    (int)suppressed));
		return;
	}
	fprintf(stderr, "warrend: access time=%s type=dns verdict=denied name=%s request_id=%s session_id=%s "
		"suppressed=%u\n", when, text, rid, session_id, suppressed);
}

bool request_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* A random prefix drawn once and a counter: unique within this daemon's
 * life, and across daemons by the prefix, without a syscall per request. */
void request_id_new(char *out)
{
	static uint64_t prefix, counter;
	if (!prefix && getrandom(&prefix, sizeof prefix, GRND_NONBLOCK) != sizeof prefix)
		prefix = ((uint64_t)getpid() << 32) ^ monotonic_ms();
	snprintf(out, REQUEST_ID_MAX + 1, "%012llx%012llx", (unsigned long long)(prefix & 0xffffffffffffULL),
		 (unsigned long long)(++counter & 0xffffffffffffULL));
}
