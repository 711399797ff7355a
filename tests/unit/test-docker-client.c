/* The docker client's parsers: HTTP responses, attached stream frames,
 * tar archives; every input fed in every split a socket could deliver. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker-client.h"
#include "unit.h"

/* Feeds text to a parser in pieces of `step` bytes, keeping unused bytes
 * as a caller does; returns the final feed result (< 0 on error). */
static int http_feed_in_steps(struct docker_http *h, const char *text, size_t len, size_t step)
{
	char buf[8192];
	size_t have = 0, off = 0;
	while (off < len || have) {
		size_t take = len - off < step ? len - off : step;
		memcpy(buf + have, text + off, take);
		have += take;
		off += take;
		ssize_t used = docker_http_feed(h, buf, have);
		if (used < 0)
			return (int)used;
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
		if (h->done || (take == 0 && used == 0))
			break;
	}
	return 0;
}

START_TEST(http_content_length)
{
	const char *resp = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 10\r\n"
			   "Api-Version:  1.41 \r\n\r\n{\"Id\":\"a\"}";
	for (size_t step = 1; step <= strlen(resp); step++) {
		struct docker_http h;
		docker_http_init(&h, false, NULL, NULL);
		ck_assert_int_eq(http_feed_in_steps(&h, resp, strlen(resp), step), 0);
		ck_assert(h.done);
		ck_assert_int_eq(h.status, 201);
		ck_assert_uint_eq(h.body_len, 10);
		ck_assert_str_eq(h.body, "{\"Id\":\"a\"}");
		char *v = docker_http_header(&h, "api-version");
		ck_assert_str_eq(v, "1.41");
		free(v);
		ck_assert_ptr_null(docker_http_header(&h, "Api"));
		docker_http_free(&h);
	}
}
END_TEST

START_TEST(http_chunked)
{
	const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
	for (size_t step = 1; step <= strlen(resp); step++) {
		struct docker_http h;
		docker_http_init(&h, false, NULL, NULL);
		ck_assert_int_eq(http_feed_in_steps(&h, resp, strlen(resp), step), 0);
		ck_assert_msg(h.done, "step %zu", step);
		ck_assert_str_eq(h.body, "hello 0123456789");
		docker_http_free(&h);
	}
	/* a chunk not followed by CRLF is not HTTP */
	struct docker_http h;
	docker_http_init(&h, false, NULL, NULL);
	const char *bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY";
	ck_assert_int_eq(http_feed_in_steps(&h, bad, strlen(bad), 100), -EBADMSG);
	docker_http_free(&h);
}
END_TEST

START_TEST(http_eof_and_head)
{
	struct docker_http h;
	docker_http_init(&h, false, NULL, NULL);
	const char *r = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
	ck_assert_int_eq(http_feed_in_steps(&h, r, strlen(r), 3), 0);
	ck_assert(!h.done);
	ck_assert_int_eq(docker_http_eof(&h), 0);
	ck_assert_str_eq(h.body, "until the end");
	docker_http_free(&h);

	/* HEAD: a Content-Length but no body */
	docker_http_init(&h, true, NULL, NULL);
	r = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nX-Docker-Container-Path-Stat: e30=\r\n\r\n";
	ck_assert_int_eq(http_feed_in_steps(&h, r, strlen(r), 7), 0);
	ck_assert(h.done);
	docker_http_free(&h);

	/* cut short: EOF before Content-Length bytes */
	docker_http_init(&h, false, NULL, NULL);
	r = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 50\r\n\r\n{\"message\":";
	ck_assert_int_eq(http_feed_in_steps(&h, r, strlen(r), 64), 0);
	ck_assert_int_eq(docker_http_eof(&h), -EPROTO);
	docker_http_free(&h);

	docker_http_init(&h, false, NULL, NULL);
	ck_assert_int_eq(docker_http_feed(&h, "SSH-2.0-OpenSSH\r\n\r\n", 19), -EBADMSG);
	docker_http_free(&h);
}
END_TEST

START_TEST(http_error_message)
{
	struct docker_http h;
	docker_http_init(&h, false, NULL, NULL);
	const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 50\r\n\r\n"
			"{\"cause\":\"x\",\"message\":\"no such container\"}       \n";
	ck_assert_int_eq(http_feed_in_steps(&h, r, strlen(r), 1000), 0);
	char msg[100];
	docker_error_message(&h, msg, sizeof msg);
	ck_assert_str_eq(msg, "no such container");
	docker_http_free(&h);
}
END_TEST

struct collected {
	char out[256], err[256];
	size_t out_len, err_len;
};

static int collect(void *arg, int stream, const void *data, size_t n)
{
	struct collected *c = arg;
	char *dst = stream == 2 ? c->err + c->err_len : c->out + c->out_len;
	memcpy(dst, data, n);
	*(stream == 2 ? &c->err_len : &c->out_len) += n;
	return 0;
}

START_TEST(demux_frames_split)
{
	/* stdout "hello\n", stderr "oops", an empty frame, stdout "bye" */
	static const unsigned char stream[] = {
		1, 0, 0, 0, 0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o', '\n',
		2, 0, 0, 0, 0, 0, 0, 4, 'o', 'o', 'p', 's',
		1, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 3, 'b', 'y', 'e',
	};
	for (size_t step = 1; step <= sizeof stream; step++) {
		struct docker_demux d = { 0 };
		struct collected c = { 0 };
		for (size_t off = 0; off < sizeof stream; off += step) {
			size_t n = sizeof stream - off < step ? sizeof stream - off : step;
			ck_assert_int_eq(docker_demux_feed(&d, stream + off, n, collect, &c), 0);
		}
		ck_assert_uint_eq(c.out_len, 9);
		ck_assert(!memcmp(c.out, "hello\nbye", 9));
		ck_assert_uint_eq(c.err_len, 4);
		ck_assert(!memcmp(c.err, "oops", 4));
	}
	struct docker_demux d = { 0 };
	struct collected c = { 0 };
	static const unsigned char bad[] = { 7, 0, 0, 0, 0, 0, 0, 1, 'x' };
	ck_assert_int_eq(docker_demux_feed(&d, bad, sizeof bad, collect, &c), -EBADMSG);
}
END_TEST

struct tar_seen {
	unsigned n;
	char names[4][5000];
	char types[4];
	uint32_t modes[4];
	uint32_t owners[4][2];
	char data[4][64];
	size_t data_len[4];
};

static int seen_entry(void *arg, const struct docker_tar_entry *ent)
{
	struct tar_seen *s = arg;
	ck_assert_uint_lt(s->n, 4);
	snprintf(s->names[s->n], sizeof s->names[0], "%s", ent->name);
	s->types[s->n] = ent->type;
	s->modes[s->n] = ent->mode;
	s->owners[s->n][0] = ent->uid;
	s->owners[s->n][1] = ent->gid;
	s->n++;
	return 0;
}

static int seen_data(void *arg, const struct docker_tar_entry *ent, const void *data, size_t n)
{
	(void)ent;
	struct tar_seen *s = arg;
	size_t i = s->n - 1;
	memcpy(s->data[i] + s->data_len[i], data, n);
	s->data_len[i] += n;
	return 0;
}

START_TEST(tar_roundtrip)
{
	char long_dir[300];
	memset(long_dir, 'd', 150);
	strcpy(long_dir + 150, "/");
	char long_name[400]; /* needs the ustar prefix field */
	snprintf(long_name, sizeof long_name, "%sfile.txt", long_dir);
	char huge_name[4200]; /* needs a pax header */
	memset(huge_name, 'x', 4100);
	huge_name[4100] = '\0';
	char *tar = NULL;
	size_t len = 0;
	ck_assert_int_eq(docker_tar_append_header(&tar, &len, "a/", '5', 0755, 0, 1000, 1000, 1), 0);
	ck_assert_int_eq(docker_tar_append_header(&tar, &len, long_name, '0', 0644, 5, 1000, 1000, 1), 0);
	ck_assert_int_eq(docker_tar_append(&tar, &len, "hello", 5), 0);
	ck_assert_int_eq(docker_tar_pad(&tar, &len), 0);
	ck_assert_int_eq(docker_tar_append_header(&tar, &len, huge_name, '0', 0600, 3, 0, 42, 1), 0);
	ck_assert_int_eq(docker_tar_append(&tar, &len, "abc", 3), 0);
	ck_assert_int_eq(docker_tar_finish(&tar, &len), 0);
	ck_assert_uint_eq(len % DOCKER_TAR_BLOCK, 0);
	for (size_t step = 1; step <= len; step = step < 16 ? step + 1 : step * 3) {
		struct tar_seen s = { 0 };
		struct docker_tar_reader r;
		docker_tar_reader_init(&r);
		r.on_entry = seen_entry;
		r.on_data = seen_data;
		r.arg = &s;
		for (size_t off = 0; off < len; off += step)
			ck_assert_int_eq(docker_tar_feed(&r, tar + off, len - off < step ? len - off : step), 0);
		ck_assert(r.ended);
		docker_tar_reader_free(&r);
		ck_assert_uint_eq(s.n, 3);
		ck_assert_str_eq(s.names[0], "a/");
		ck_assert_int_eq(s.types[0], '5');
		ck_assert_uint_eq(s.modes[0], 0755);
		ck_assert_str_eq(s.names[1], long_name);
		ck_assert_uint_eq(s.data_len[1], 5);
		ck_assert(!memcmp(s.data[1], "hello", 5));
		ck_assert_str_eq(s.names[2], huge_name);
		ck_assert_uint_eq(s.modes[2], 0600);
		/* the owner, which a GET checks against the sandbox user */
		ck_assert_uint_eq(s.owners[1][0], 1000);
		ck_assert_uint_eq(s.owners[1][1], 1000);
		ck_assert_uint_eq(s.owners[2][0], 0);
		ck_assert_uint_eq(s.owners[2][1], 42);
		ck_assert(!memcmp(s.data[2], "abc", 3));
	}
	/* a flipped byte breaks the checksum */
	tar[DOCKER_TAR_BLOCK + 20] ^= 1;
	struct docker_tar_reader r;
	docker_tar_reader_init(&r);
	ck_assert_int_eq(docker_tar_feed(&r, tar, len), -EBADMSG);
	docker_tar_reader_free(&r);
	free(tar);
}
END_TEST

/* A symlink with a GNU long link name, as some engines write them. */
START_TEST(tar_gnu_longlink)
{
	char *tar = NULL;
	size_t len = 0;
	char target[200];
	memset(target, 't', 199);
	target[199] = '\0';
	ck_assert_int_eq(docker_tar_append_header(&tar, &len, "././@LongLink", 'K', 0, 200, 0, 0, 0), 0);
	ck_assert_int_eq(docker_tar_append(&tar, &len, target, 200), 0);
	ck_assert_int_eq(docker_tar_pad(&tar, &len), 0);
	ck_assert_int_eq(docker_tar_append_header(&tar, &len, "link", '2', 0777, 0, 0, 0, 0), 0);
	ck_assert_int_eq(docker_tar_finish(&tar, &len), 0);
	struct docker_tar_reader r;
	docker_tar_reader_init(&r);
	struct tar_seen s = { 0 };
	r.on_entry = seen_entry;
	r.arg = &s;
	ck_assert_int_eq(docker_tar_feed(&r, tar, len), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.names[0], "link");
	ck_assert_int_eq(s.types[0], '2');
	ck_assert_str_eq(r.ent.linkname, target);
	docker_tar_reader_free(&r);
	free(tar);
}
END_TEST

START_TEST(path_stat_and_escape)
{
	struct docker_path_stat st;
	/* {"name":"esc","size":4,"mode":134218239,"linkTarget":"/etc"} */
	ck_assert_int_eq(docker_path_stat_parse("eyJuYW1lIjoiZXNjIiwic2l6ZSI6NCwibW9kZSI6MTM0MjE4MjM5LCJsaW5rVGFyZ2V0IjoiL2V0YyJ9",
						&st), 0);
	ck_assert(st.mode & DOCKER_MODE_SYMLINK);
	ck_assert(!(st.mode & DOCKER_MODE_DIR));
	ck_assert_uint_eq(st.mode & 0777, 0777);
	ck_assert_uint_eq(st.size, 4);
	ck_assert_int_eq(docker_path_stat_parse("not base64!", &st), -EBADMSG);
	char *q = docker_url_escape("/workspace/a b&c=d?#%+é");
	ck_assert_str_eq(q, "/workspace/a%20b%26c%3Dd%3F%23%25%2B%C3%A9");
	free(q);
}
END_TEST

/* podman 4's listing error for a container recorded without its storage
 * (the record is removed by that id); nothing else names an id. */
START_TEST(broken_record)
{
	char id[72];
	const char *id64 = "808728b16d6776effe4e3e3be29053691082af9e3f5f9f6dcb0236793e5f1830";
	char msg[256];
	snprintf(msg, sizeof msg, "getting container from store \"%s\": container not known", id64);
	ck_assert(docker_broken_record(msg, id, sizeof id));
	ck_assert_str_eq(id, id64);
	ck_assert(!docker_broken_record(msg, id, 64)); /* no room for it */
	ck_assert(!docker_broken_record("no container with name or ID \"x\" found: no such container", id, sizeof id));
	ck_assert(!docker_broken_record("getting container from store \"abc\": container not known", id, sizeof id));
	ck_assert(!docker_broken_record("getting container from store \"808728b16d67/../x\": container not known", id,
					sizeof id));
	snprintf(msg, sizeof msg, "getting container from store \"%s\": layer not known", id64);
	ck_assert(!docker_broken_record(msg, id, sizeof id));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("docker-client");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, http_content_length);
	tcase_add_test(tc, http_chunked);
	tcase_add_test(tc, http_eof_and_head);
	tcase_add_test(tc, http_error_message);
	tcase_add_test(tc, demux_frames_split);
	tcase_add_test(tc, tar_roundtrip);
	tcase_add_test(tc, tar_gnu_longlink);
	tcase_add_test(tc, path_stat_and_escape);
	tcase_add_test(tc, broken_record);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
