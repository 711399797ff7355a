/* A minimal HTTP/1.1 client for the test guest, which has no curl:
 *   vm-http PORT METHOD PATH [JSON-BODY]
 * talks to 127.0.0.1:PORT (with the token in $WARREN_TOKEN, as warrend
 * wants one on TCP) and prints the status code on the first line, then the
 * response body. busybox nc will not do: it half-closes the
 * connection when its stdin ends, which warrend takes (rightly) for a
 * client that went away, cancelling a long exec. Exit 0 when a response
 * came, 1 otherwise. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: vm-http PORT METHOD PATH [BODY|@FILE]\n");
		return 2;
	}
	const char *body = argc == 5 ? argv[4] : "";
	size_t body_len = strlen(body);
	if (body[0] == '@') { /* a file's bytes (a file upload) */
		FILE *f = fopen(body + 1, "rb");
		char *data = NULL;
		if (!f || fseek(f, 0, SEEK_END) < 0 || (long)(body_len = (size_t)ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) < 0 || !(data = malloc(body_len + 1)) ||
		    fread(data, 1, body_len, f) != body_len) {
			perror(body + 1);
			return 1;
		}
		fclose(f);
		body = data;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* the guest's whole run is bounded; this only keeps one hang from eating it */
	struct timeval tv = { .tv_sec = 90 };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("vm-http: connect");
		return 1;
	}
	const char *token = getenv("WARREN_TOKEN");
	if (token && !*token)
		token = NULL;
	char head[1024];
	int n = snprintf(head, sizeof head,
			 "%s %s HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n%s%s%s"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 argv[2], argv[3], argv[1], token ? "Authorization: Bearer " : "", token ? token : "",
			 token ? "\r\n" : "", body_len);
	if (n < 0 || (size_t)n >= sizeof head || write_all(fd, head, (size_t)n) < 0 ||
	    write_all(fd, body, body_len) < 0) {
		perror("vm-http: send");
		return 1;
	}
	/* Connection: close: the response ends where the stream does */
	size_t cap = 1 << 16, len = 0;
	char *resp = malloc(cap + 1);
	ssize_t got;
	while (resp && (got = read(fd, resp + len, cap - len)) > 0) {
		len += (size_t)got;
		if (len == cap && !(resp = realloc(resp, (cap *= 2) + 1)))
			break;
	}
	if (!resp) {
		fprintf(stderr, "vm-http: out of memory\n");
		return 1;
	}
	resp[len] = '\0';
	int status;
	char *end = strstr(resp, "\r\n\r\n");
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !end) {
		fprintf(stderr, "vm-http: no HTTP response (%zu bytes)\n", len);
		return 1;
	}
	printf("%d\n%s\n", status, end + 4);
	return 0;
}
