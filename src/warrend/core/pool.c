/* Boxes and pools: sandboxes spawned ahead of demand, leased in O(1),
 * never reused, destroyed in the background. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-internal.h"
#include "cleanup.h"
#include "image.h"
#include "userns.h"

#define SPAWNS_PER_TICK 2       /* refill pace: bounded loop time per tick */
#define MAX_STARTING 16         /* boxes starting at once, pool and misses together */
/* Each sandbox holds one of the host's uid ranges (as root; their number
 * is uid_layout_slots, userns.h), which `warren run` and other daemons draw
 * on too: however max_sessions is set, the daemon leaves this many for
 * them. */
#define UID_RANGES_SPARED 256

struct pool {
	enum backend_kind backend;
	char *image;            /* name, "host" */
	char *image_path;       /* NULL for host */
	char *policy_name;
	struct policy *policy;
	/* A sibling of the policy's own pool whose sandboxes have a lower
	 * network mode than the policy's (a session asked "none" of an
	 * egress policy): its policy says so. */
	bool network_lowered;
	struct seccomp_program seccomp;
	unsigned target;
	struct list idle;       /* ready boxes, oldest first */
	unsigned n_idle, n_starting, n_leased;
	uint64_t hits, misses, spawn_failures;
	char last_error[256];
	bool retired;           /* policies were reloaded: no new leases */
	struct pool *next;
};

static struct pool *pools;
static struct list all_boxes = LIST_INIT(all_boxes);
static struct list dying = LIST_INIT(dying);
static unsigned n_starting_total, n_leased_total, default_target;
static unsigned n_boxes;        /* in all_boxes or dying: each holds a uid range until reaped */
static uint64_t box_counter;
static uint64_t hits_total, misses_total; /* retired pools' too */

enum box_state box_state(const struct box *b) { return b->state; }
const struct backend_ops *box_ops(const struct box *b) { return b->ops; }
struct backend_box *box_backend(const struct box *b) { return b->bb; }
enum backend_kind pool_backend(const struct pool *p) { return p->backend; }
struct pool *box_pool(const struct box *b) { return b->pool; }
struct net_egress *box_net(const struct box *b) { return b->bb && b->ops->net ? b->ops->net(b->bb) : NULL; }
void box_set_holder(struct box *b, box_died_fn died, void *holder)
{
	b->died = died;
	b->holder = holder;
}
void box_set_log_ids(struct box *b, const char *rid, const char *sid)
{
	snprintf(b->request_id, sizeof b->request_id, "%s", rid ? rid : "");
	snprintf(b->session_id, sizeof b->session_id, "%s", sid ? sid : "");
}

/* The log lines of a box name its last request and its session. */
#define BOX_LOG_SCOPE(b) LOG_CTX_SCOPE((b)->request_id[0] ? (b)->request_id : NULL, \
				       (b)->session_id[0] ? (b)->session_id : NULL)
const struct policy *pool_policy(const struct pool *p) { return p->policy; }
const char *pool_image(const struct pool *p) { return p->image; }
const char *pool_policy_name(const struct pool *p) { return p->policy_name; }

/* ---- images and policies by name ------------------------------------------ */

/* Policy names follow the same rule as image names. */
static bool valid_name(const char *name)
{
	return image_name_valid(name);
}

static bool policy_allows_image(const struct policy *p, const char *image)
{
	if (!p->images)
		return true;
	for (size_t i = 0; i < p->n_images; i++)
		if (!strcmp(p->images[i], image))
			return true;
	return false;
}

/* A new pool; mode < 0: the policy's own network, else that one (lower). */
static struct pool *pool_new(enum backend_kind backend, const char *image, const char *policy_name, int mode,
			     struct wd_error *err)
{
	if (!valid_name(policy_name))
		return wd_fail(err, 400, "policy: \"%s\" is not a policy name", policy_name), NULL;
	if (!valid_name(image))
		return wd_fail(err, 400, "image: \"%s\" is not an image name", image), NULL;
	_cleanup_free_ char *path = NULL;
	if (strcmp(image, IMAGE_HOST) && !(path = image_path(daemon_state->cfg.image_dir, image))) {
		_cleanup_free_ char *names = image_names_text(daemon_state->cfg.image_dir);
		wd_fail(err, 400, "image: unknown image \"%s\" (available: %s)", image, names ? names : IMAGE_HOST);
		return NULL;
	}
	wr_error e = { 0 };
	_cleanup_policy_ struct policy *pol = NULL;
	if (policy_load(policy_name, &pol, &e) < 0)
		return wd_fail(err, 400, "policy: %s", e.message), NULL;
	if (!policy_allows_image(pol, image))
		return wd_fail(err, 400, "image: policy %s does not allow image \"%s\"", policy_name, image), NULL;
	if (mode >= 0 && policy_set_network(pol, (enum net_mode)mode, &e) < 0)
		return wd_fail(err, 400, "network: %s", e.message), NULL;
	struct pool *p = calloc(1, sizeof *p);
	if (!p || !(p->image = strdup(image)) || !(p->policy_name = strdup(policy_name))) {
		wd_fail(err, 500, "out of memory");
		if (p)
			free(p->image);
		free(p);
		return NULL;
	}
	if (seccomp_program_build(pol, &p->seccomp, &e) < 0) {
		wd_fail(err, 500, "policy %s: %s", policy_name, e.message);
		free(p->image);
		free(p->policy_name);
		free(p);
		return NULL;
	}
	p->backend = backend;
	p->image_path = TAKE_PTR(path);
	p->policy = TAKE_PTR(pol);
	p->network_lowered = mode >= 0;
	list_init(&p->idle);
	/* Only the default pool is kept warm from the start; others warm up
	 * to a small target once used. A pool of the host's network is
	 * never warmed: no session may have it. */
	p->target = backend == (enum backend_kind)daemon_state->backend &&
				!strcmp(image, daemon_state->cfg.default_image) &&
				!strcmp(policy_name, daemon_state->cfg.default_policy) && !p->network_lowered
			    ? default_target : (default_target ? 2 : 0);
	if (p->policy->network == NET_HOST)
		p->target = 0;
	p->next = pools;
	pools = p;
	return p;
}

struct pool *pool_get(enum backend_kind backend, const char *image, const char *policy_name, struct wd_error *err)
{
	for (struct pool *p = pools; p; p = p->next)
		if (!p->retired && !p->network_lowered && p->backend == backend && !strcmp(p->image, image) &&
		    !strcmp(p->policy_name, policy_name))
			return p;
	return pool_new(backend, image, policy_name, -1, err);
}

struct pool *pool_with_network(struct pool *own, enum net_mode mode, struct wd_error *err)
{
	if (own->policy->network == mode)
		return own;
	for (struct pool *p = pools; p; p = p->next)
		if (!p->retired && p->network_lowered && p->policy->network == mode && p->backend == own->backend &&
		    !strcmp(p->image, own->image) && !strcmp(p->policy_name, own->policy_name))
			return p;
	return pool_new(own->backend, own->image, own->policy_name, (int)mode, err);
}

/* ---- boxes ------------------------------------------------------------------ */

static void box_on_read(struct loop_io *io, const char *err);

void box_new_name(char *name, size_t len, bool kept)
{
	if (kept) /* (an adopted oci container keeps its name: the previous daemon may have had our pid) */
		do
			snprintf(name, len, "wd-%d-k%s-%llu", (int)getpid(), daemon_state->state_tag,
				 (unsigned long long)++box_counter);
		while (box_name_held(name));
	else
		snprintf(name, len, "wd-%d-%llu", (int)getpid(), (unsigned long long)++box_counter);
}

/* A new box of p in all_boxes, its backend's events on the loop, in
 * `state`. NULL (bb destroyed in the background) on no memory. */
static struct box *box_track(struct pool *p, struct backend_box *bb, enum box_state state, struct wd_error *err)
{
	struct box *b = calloc(1, sizeof *b);
	if (!b) {
		backend_get(p->backend)->destroy_step(bb); /* (left to the stale sweep if it needs more) */
		return wd_fail(err, 503, "out of memory"), NULL;
	}
	b->ops = backend_get(p->backend);
	b->bb = bb;
	b->pool = p;
	b->started_ms = daemon_now_ms();
	list_init(&b->execs);
	list_insert(&all_boxes, &b->all_link);
	n_boxes++;
	int event_fd = b->ops->event_fd ? b->ops->event_fd(b->bb) : -1;
	if (event_fd >= 0) {
		int fd = event_fd; /* ours now (backend.h) */
		if (!(b->io = loop_io_new(fd, LOOP_IO_READ, b))) {
			/* (the fd is closed) torn down from the tick like any
			 * dead box: nothing here waits for the backend */
			wd_fail(err, 503, "watch the sandbox: out of memory");
			b->state = BOX_DEAD;
			list_unlink(&b->all_link);
			list_insert(&dying, &b->all_link);
			return NULL;
		}
	}
	b->state = state;
	if (state == BOX_STARTING) {
		p->n_starting++;
		n_starting_total++;
	} else {
		p->n_leased++;
		n_leased_total++;
	}
	if (b->io)
		loop_io_read_start(b->io, box_on_read);
	return b;
}

static struct box *box_spawn(struct pool *p, const struct policy_limits *limits, struct wd_error *err)
{
	char name[64];
	bool fixed = backend_names_fixed(backend_get(p->backend));
	box_new_name(name, sizeof name, fixed);
	/* the backends read the policy only while create runs: a copy with
	 * other limits may live on this stack */
	struct policy own = *p->policy;
	if (limits)
		own.limits = *limits;
	struct backend_spec spec = {
		.policy = &own, .image = p->image, .image_path = p->image_path, .seccomp = &p->seccomp,
		.name = name,
	};
	if (geteuid() == 0 && n_boxes + UID_RANGES_SPARED >= uid_layout_slots(uid_layout_get())) {
		wd_fail(err, 503, "the daemon holds %u sandboxes; the host's other uid ranges are left for "
			"warren run", n_boxes);
		snprintf(p->last_error, sizeof p->last_error, "%s", err->cause.message);
		return NULL;
	}
	const struct backend_ops *ops = backend_get(p->backend);
	struct backend_box *bb;
	wr_error e = { 0 };
	if (ops->create(&spec, &bb, &e) < 0) {
		wd_fail(err, 503, "create a sandbox (%s): %s", ops->name, e.message);
		snprintf(p->last_error, sizeof p->last_error, "%s", err->cause.message);
		p->spawn_failures++;
		return NULL;
	}
	struct box *b = box_track(p, bb, BOX_STARTING, err);
	if (b && fixed)
		snprintf(b->name, sizeof b->name, "%s", name);
	return b;
}

struct box *box_adopt(struct pool *p, struct backend_box *bb, uint32_t last_exec_id, const char *name,
		      struct wd_error *err)
{
	struct box *b = box_track(p, bb, BOX_LEASED, err);
	if (b) {
		b->next_exec_id = last_exec_id;
		b->kept = true;
		snprintf(b->name, sizeof b->name, "%s", name);
	}
	return b;
}

bool box_name_held(const char *name)
{
	for (struct list *n = all_boxes.next; n != &all_boxes; n = n->next) {
		struct box *b = LIST_ENTRY(struct box, all_link, n);
		if (b->name[0] && !strcmp(b->name, name))
			return true;
	}
	return false;
}

int box_keep(struct box *b, struct wd_error *err)
{
	wr_error e = { 0 };
	if (!b->ops->keep)
		return wd_fail(err, 501, "the %s backend's sandboxes end with warrend", b->ops->name);
	char name[64];
	if (backend_names_fixed(b->ops))
		snprintf(name, sizeof name, "%s", b->name);
	else
		box_new_name(name, sizeof name, true);
	if (b->ops->keep(b->bb, name, &e) < 0)
		return wd_fail(err, e.code == EOPNOTSUPP ? 501 : 503, "%s", e.message);
	b->kept = true;
	snprintf(b->name, sizeof b->name, "%s", name);
	return 0;
}

bool box_kept(const struct box *b) { return b->kept; }

json_t *box_save(const struct box *b)
{
	return b->kept && b->bb && b->ops->save ? b->ops->save(b->bb) : NULL;
}

static void box_leave_starting(struct box *b)
{
	if (b->state == BOX_STARTING) {
		b->pool->n_starting--;
		n_starting_total--;
	}
}

/* The box is unusable: its execs end, its session learns it, it goes. */
static void box_fail(struct box *b, const char *why)
{
	if (b->state == BOX_DEAD)
		return;
	bool was_starting = b->state == BOX_STARTING;
	box_leave_starting(b);
	if (b->state == BOX_IDLE) {
		list_unlink(&b->link);
		b->pool->n_idle--;
	} else if (b->state == BOX_LEASED) {
		b->pool->n_leased--;
		n_leased_total--;
	}
	b->state = BOX_DEAD;
	snprintf(b->error, sizeof b->error, "%s", why);
	if (was_starting && why)
		snprintf(b->pool->last_error, sizeof b->pool->last_error, "%s", why);
	while (!list_empty(&b->execs)) {
		struct exec *x = LIST_ENTRY(struct exec, box_link, b->execs.next);
		exec_box_gone(x, why);
	}
	if (b->died) {
		/* The box is freed once reaped: its holder must let go now. */
		box_died_fn died = b->died;
		b->died = NULL;
		died(b->holder, why);
	}
	if (was_starting && b->ready_cb) {
		box_ready_fn cb = b->ready_cb;
		b->ready_cb = NULL;
		cb(b, b->ready_data, why);
	}
	/* Not closed yet: the fd is the backend's init socket (backend.h
	 * event_fd), which it may still send on until its destroy is done. */
	if (b->io)
		loop_io_read_stop(b->io);
	list_unlink(&b->all_link);
	list_insert(&dying, &b->all_link);
}

void box_destroy(struct box *b)
{
	b->died = NULL;
	box_fail(b, "the session was deleted");
}

void box_describe(const struct box *b, char *buf, size_t len, int *init_pid)
{
	buf[0] = '\0';
	*init_pid = -1;
	if (!b->bb)
		return;
	b->ops->describe(b->bb, buf, len);
	if (b->ops->init_pid)
		*init_pid = (int)b->ops->init_pid(b->bb);
}

static void box_became_ready(struct box *b)
{
	box_leave_starting(b);
	if (b->ready_cb) {
		box_ready_fn cb = b->ready_cb;
		b->ready_cb = NULL;
		b->state = BOX_LEASED;
		b->pool->n_leased++;
		n_leased_total++;
		cb(b, b->ready_data, NULL);
		return;
	}
	b->state = BOX_IDLE;
	list_insert(&b->pool->idle, &b->link);
	b->pool->n_idle++;
}

static void box_on_event(struct box *b, const struct backend_event *ev)
{
	switch (ev->type) {
	case BACKEND_EV_READY:
		if (b->state == BOX_STARTING)
			box_became_ready(b);
		return;
	case BACKEND_EV_SETUP_FAILED:
	case BACKEND_EV_DIED: {
		BOX_LOG_SCOPE(b);
		daemon_log("%s sandbox: %s", b->ops->name, ev->message);
		box_fail(b, ev->message);
		return;
	}
	case BACKEND_EV_EXEC_FAILED:
	case BACKEND_EV_EXITED: {
		struct exec *x = box_find_exec(b, ev->exec_id);
		if (x)
			exec_on_event(x, ev);
		return;
	}
	}
}

static void box_on_read(struct loop_io *io, const char *err)
{
	struct box *b = loop_io_data(io);
	if (err) {
		BOX_LOG_SCOPE(b);
		if (b->state == BOX_LEASED)
			daemon_log("%s sandbox: its init exited", b->ops->name);
		box_fail(b, "the sandbox's init exited");
		return;
	}
	for (;;) {
		struct backend_event ev;
		size_t len;
		const char *bytes = loop_io_input(io, &len);
		ssize_t used = b->ops->parse_event(b->bb, bytes, len, &ev);
		if (used == 0)
			return;
		if (used < 0) {
			BOX_LOG_SCOPE(b);
			daemon_log("%s sandbox %d sent a malformed message: destroyed", b->ops->name,
				   b->ops->init_pid ? (int)b->ops->init_pid(b->bb) : -1);
			box_fail(b, "the sandbox sent a malformed message");
			return;
		}
		loop_io_consume(io, (size_t)used);
		box_on_event(b, &ev);
		if (b->state == BOX_DEAD)
			return;
	}
}

void box_poll(struct box *b)
{
	struct backend_event ev;
	while (b->state != BOX_DEAD && b->ops->poll && b->ops->poll(b->bb, &ev) == 1)
		box_on_event(b, &ev);
}

struct box *pool_lease(struct pool *p)
{
	if (list_empty(&p->idle)) {
		p->misses++;
		misses_total++;
		return NULL;
	}
	struct box *b = LIST_ENTRY(struct box, link, p->idle.next);
	list_unlink(&b->link);
	p->n_idle--;
	b->state = BOX_LEASED;
	p->n_leased++;
	n_leased_total++;
	p->hits++;
	hits_total++;
	return b;
}

bool pool_limits_live(const struct pool *p)
{
	return backend_get(p->backend)->set_limits != NULL;
}

bool pool_limits_tighter(const struct pool *p, const struct policy_limits *l)
{
	const struct policy_limits *pl = &p->policy->limits;
	return l->memory < pl->memory || l->pids < pl->pids || l->cpu_millis < pl->cpu_millis;
}

int pool_cold_create(struct pool *p, const struct policy_limits *limits, box_ready_fn ready, void *data,
		     struct wd_error *err)
{
	struct box *b = box_spawn(p, limits, err);
	if (!b)
		return -err->cause.code;
	b->ready_cb = ready;
	b->ready_data = data;
	return 0;
}

int box_set_limits(struct box *b, const struct policy_limits *l, struct wd_error *err)
{
	struct cgroup_limits cl = { .memory = l->memory, .pids = l->pids, .cpu_millis = l->cpu_millis };
	wr_error e = { 0 };
	if (!b->ops->set_limits)
		return wd_fail(err, 503, "limits: the %s backend takes limits only at creation", b->ops->name);
	if (b->ops->set_limits(b->bb, &cl, &e) < 0)
		return wd_fail(err, 503, "limits: %s", e.message);
	return 0;
}

/* After SIGHUP: sessions keep their sandboxes; new ones come from pools
 * built with the re-read policies. Idle sandboxes of old pools go. */
void pools_retire(void)
{
	for (struct pool *p = pools; p; p = p->next) {
		if (p->retired)
			continue;
		p->retired = true;
		p->target = 0;
		while (!list_empty(&p->idle))
			box_fail(LIST_ENTRY(struct box, link, p->idle.next), "policies reloaded");
	}
	struct wd_error err = { 0 };
	if (!pool_get((enum backend_kind)daemon_state->backend, daemon_state->cfg.default_image,
		      daemon_state->cfg.default_policy, &err))
		daemon_log("reload: default pool: %s", err.cause.message);
}

void pools_set_target(unsigned count)
{
	default_target = count;
}

void pools_lease_counts(uint64_t *hits, uint64_t *misses)
{
	*hits = hits_total;
	*misses = misses_total;
}

void pools_foreach(void (*fn)(const struct pool_stats *st, void *data), void *data)
{
	for (struct pool *p = pools; p; p = p->next) {
		if (p->retired)
			continue;
		struct pool_stats st = {
			.backend = backend_kind_name(p->backend), .image = p->image, .policy = p->policy_name,
			.network = policy_net_mode_name(p->policy->network),
			.ready = p->n_idle, .starting = p->n_starting, .target = p->target, .leased = p->n_leased,
			.hits = p->hits, .misses = p->misses, .spawn_failures = p->spawn_failures,
			.last_error = p->last_error[0] ? p->last_error : NULL,
		};
		fn(&st, data);
	}
}

/* ---- the tick: refill, deadlines, background destruction ----------------- */

static void refill(void)
{
	if (daemon_state->draining)
		return;
	unsigned spawned = 0;
	for (struct pool *p = pools; p && spawned < SPAWNS_PER_TICK; p = p->next) {
		/* A pool that keeps failing waits for the next ticks instead of
		 * spinning; its last error is in /v1/health. */
		while (p->n_idle + p->n_starting < p->target && spawned < SPAWNS_PER_TICK &&
		       n_starting_total < MAX_STARTING &&
		       n_leased_total + p->n_idle < daemon_state->cfg.max_sessions + p->target) {
			struct wd_error err = { 0 };
			spawned++;
			if (!box_spawn(p, NULL, &err))
				break;
		}
	}
}

static void reap_dying(void)
{
	struct list *node = dying.next;
	while (node != &dying) {
		struct box *b = LIST_ENTRY(struct box, all_link, node);
		node = node->next;
		if (!b->bb || b->ops->destroy_step(b->bb) == 0) {
			if (b->io)
				loop_io_close(b->io);
			list_unlink(&b->all_link);
			n_boxes--;
			free(b);
		}
	}
}

static void check_starting(uint64_t now)
{
	for (struct list *n = all_boxes.next; n != &all_boxes;) {
		struct box *b = LIST_ENTRY(struct box, all_link, n);
		n = n->next;
		box_poll(b);
		uint64_t limit_ms = b->ops->start_timeout_ms;
		if (b->state == BOX_STARTING && now - b->started_ms > limit_ms) {
			char why[96];
			snprintf(why, sizeof why, "the sandbox did not become ready within %llu s",
				 (unsigned long long)(limit_ms / 1000));
			box_fail(b, why);
		}
		else if (b->state != BOX_DEAD)
			box_check_execs(b, now);
	}
}

void box_tick(uint64_t now)
{
	check_starting(now);
	reap_dying();
	refill();
}

/* One step of boxes_leave: true when it changed something (callbacks
 * may have ended other boxes: the caller starts over). */
static bool leave_one(const char *why)
{
	for (struct list *n = all_boxes.next; n != &all_boxes; n = n->next) {
		struct box *b = LIST_ENTRY(struct box, all_link, n);
		if (!b->kept) {
			box_fail(b, "warrend is restarting");
			return true;
		}
		for (struct list *e = b->execs.next; e != &b->execs; e = e->next) {
			struct exec *x = LIST_ENTRY(struct exec, box_link, e);
			if (x->bound) {
				exec_kill(x);
				exec_box_gone(x, why);
				return true;
			}
		}
	}
	return false;
}

void boxes_leave(const char *why)
{
	while (leave_one(why))
		;
}

bool boxes_left(void)
{
	reap_dying();
	for (struct list *n = all_boxes.next; n != &all_boxes; n = n->next)
		if (!LIST_ENTRY(struct box, all_link, n)->kept)
			return false;
	return list_empty(&dying);
}

void boxes_destroy_all(void)
{
	while (!list_empty(&all_boxes)) {
		struct box *b = LIST_ENTRY(struct box, all_link, all_boxes.next);
		box_fail(b, "warrend is shutting down");
	}
	reap_dying();
}

bool boxes_all_gone(void)
{
	reap_dying();
	return list_empty(&all_boxes) && list_empty(&dying);
}
