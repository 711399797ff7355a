#include "config.h"
#include "creation.h"

#include "http.h"

static void creation_gone(void *data)
{
	struct http_creation *c = data;
	if (c->wait)
		session_create_cancel(c->wait);
}

int http_session_create(h2o_req_t *req, struct http_creation *c, void *data, const struct session_request *r,
			session_ready_fn done, struct wd_error *err)
{
	*c = (struct http_creation){ .pending = http_pending_new(req, creation_gone, c) };
	if (session_create(r, done, data, &c->wait, err) < 0) {
		c->pending->on_gone = NULL;
		return -1;
	}
	return 0;
}

h2o_req_t *http_creation_done(struct http_creation *c)
{
	c->wait = NULL;
	c->pending->on_gone = NULL;
	return c->pending->req;
}
