/* An intrusive doubly-linked list (the shape of h2o's linklist, kept here
 * so the core needs no h2o type). An anchor is a node whose next/prev
 * point at itself when the list is empty. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *next, *prev;
};

#define LIST_INIT(name) { &(name), &(name) }
#define LIST_ENTRY(type, member, node) ((type *)((char *)(node) - offsetof(type, member)))

static inline void list_init(struct list *anchor) { anchor->next = anchor->prev = anchor; }
static inline bool list_empty(const struct list *anchor) { return anchor->next == anchor; }
static inline bool list_linked(const struct list *node) { return node->next != NULL; }
/* Appends node before anchor: the list's tail. */
static inline void list_insert(struct list *anchor, struct list *node)
{
	node->prev = anchor->prev;
	node->next = anchor;
	node->prev->next = node;
	node->next->prev = node;
}
static inline void list_unlink(struct list *node)
{
	node->next->prev = node->prev;
	node->prev->next = node->next;
	node->next = node->prev = NULL;
}
