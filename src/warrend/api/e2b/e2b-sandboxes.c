#include "config.h"

/* E2B's record of each of its sandboxes (e2b.h): what E2B clients see of
 * a warren session that warren's own session does not hold (the template
 * asked for, metadata, the access token). A record lives while its
 * session does: looked up through session_find, swept every second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "e2b.h"

static struct list records = LIST_INIT(records);

static void new_token(char out[E2B_TOKEN_LEN + 1])
{
	unsigned char raw[E2B_TOKEN_LEN / 2];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		abort(); /* no entropy: nothing safe to hand out */
	for (size_t i = 0; i < sizeof raw; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof raw);
}

static struct e2b_sandbox *record_new(struct session *s, const char *owner, const char *template_id,
				      json_t *metadata, time_t started)
{
	struct e2b_sandbox *sb = calloc(1, sizeof *sb);
	if (!sb) {
		json_decref(metadata);
		return NULL;
	}
	snprintf(sb->id, sizeof sb->id, "%s", session_id(s));
	snprintf(sb->owner, sizeof sb->owner, "%s", owner);
	snprintf(sb->template_id, sizeof sb->template_id, "%s", template_id);
	sb->metadata = metadata ? metadata : json_object();
	sb->started = started;
	list_init(&sb->contexts);
	list_init(&sb->watchers);
	list_insert(&records, &sb->link);
	return sb;
}

static void record_free(struct e2b_sandbox *sb)
{
	e2b_fs_release(sb);
	e2b_interp_release(sb);
	list_unlink(&sb->link);
	json_decref(sb->metadata);
	OPENSSL_cleanse(sb->token, sizeof sb->token);
	free(sb);
}

struct e2b_sandbox *e2b_sandbox_new(struct session *s, const char *owner, const char *template_id, json_t *metadata)
{
	struct e2b_sandbox *sb = record_new(s, owner, template_id, metadata, time(NULL));
	if (!sb)
		return NULL;
	new_token(sb->token);
	/* in the session's record: the sandbox is E2B's again after a
	 * restart of warrend, with the token its clients hold */
	json_t *note = json_pack("{s:s, s:s, s:O, s:I}", "template_id", sb->template_id, "token", sb->token,
				 "metadata", sb->metadata, "started", (json_int_t)sb->started);
	if (!note || session_set_note(s, E2B_NOTE, note) < 0) {
		record_free(sb);
		return NULL;
	}
	return sb;
}

static void restore_one(struct session *s, void *unused)
{
	const json_t *note = session_note(s, E2B_NOTE);
	const char *template_id, *token;
	json_t *metadata;
	json_int_t started;
	if (!note)
		return;
	struct session_info i;
	session_info(s, &i);
	if (json_unpack((json_t *)note, "{s:s, s:s, s:o, s:I}", "template_id", &template_id, "token", &token,
			"metadata", &metadata, "started", &started) < 0 ||
	    strlen(token) != E2B_TOKEN_LEN || strlen(template_id) >= sizeof ((struct e2b_sandbox *)0)->template_id ||
	    !json_is_object(metadata)) {
		daemon_log("E2B: session %s: its E2B record is malformed; it stays a warren session only", i.id);
		return;
	}
	struct e2b_sandbox *sb = record_new(s, i.owner, template_id, json_incref(metadata), (time_t)started);
	if (!sb) {
		daemon_log("E2B: session %s: out of memory for its E2B record; it stays a warren session only", i.id);
		return;
	}
	memcpy(sb->token, token, E2B_TOKEN_LEN);
}

void e2b_sandboxes_restore(void)
{
	sessions_foreach(restore_one, NULL);
}

/* The record's session, or NULL (then the record goes). */
static struct session *alive(struct e2b_sandbox *sb)
{
	struct session *s = session_find(sb->id, sb->owner);
	if (!s)
		record_free(sb);
	return s;
}

struct e2b_sandbox *e2b_sandbox_by_id(const char *id)
{
	for (struct list *n = records.next; n != &records; n = n->next) {
		struct e2b_sandbox *sb = LIST_ENTRY(struct e2b_sandbox, link, n);
		if (!strcmp(sb->id, id))
			return alive(sb) ? sb : NULL;
	}
	return NULL;
}

struct e2b_sandbox *e2b_sandbox_find(const char *id, const char *owner, struct session **s)
{
	struct e2b_sandbox *sb = e2b_sandbox_by_id(id);
	if (!sb || strcmp(sb->owner, owner))
		return NULL;
	*s = session_find(sb->id, sb->owner);
	return sb;
}

bool e2b_sandbox_token_is(const struct e2b_sandbox *sb, const char *token, size_t len)
{
	return len == E2B_TOKEN_LEN && CRYPTO_memcmp(sb->token, token, E2B_TOKEN_LEN) == 0;
}

struct e2b_sandbox *e2b_sandbox_by_token(const char *token, size_t len)
{
	/* every record is compared: the time does not tell which matched */
	struct e2b_sandbox *found = NULL;
	for (struct list *n = records.next; n != &records; n = n->next) {
		struct e2b_sandbox *sb = LIST_ENTRY(struct e2b_sandbox, link, n);
		if (e2b_sandbox_token_is(sb, token, len))
			found = sb;
	}
	return found && alive(found) ? found : NULL;
}

bool e2b_sandbox_token_valid(const char *token, size_t len)
{
	return e2b_sandbox_by_token(token, len) != NULL;
}

void e2b_sandboxes_foreach(const char *owner, void (*fn)(struct e2b_sandbox *sb, struct session *s, void *data),
			   void *data)
{
	for (struct list *n = records.next, *next; n != &records; n = next) {
		next = n->next;
		struct e2b_sandbox *sb = LIST_ENTRY(struct e2b_sandbox, link, n);
		struct session *s;
		if (!strcmp(sb->owner, owner) && (s = alive(sb)))
			fn(sb, s, data);
	}
}

void e2b_sandboxes_sweep(void)
{
	for (struct list *n = records.next, *next; n != &records; n = next) {
		next = n->next;
		alive(LIST_ENTRY(struct e2b_sandbox, link, n));
	}
}
