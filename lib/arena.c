/* arena.c - bump allocator, see arena.h. */
#include <stdlib.h>
#include <string.h>
#include <stdalign.h>
#include <stdint.h>
#include "arena.h"

#define CHUNK_MIN 4096

struct tally_arena_chunk {
	struct tally_arena_chunk *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

void *
tally_arena_alloc(struct tally_arena *a, size_t size)
{
	struct tally_arena_chunk *c = a->head;
	size_t align = alignof(max_align_t);
	size_t need = (size + align - 1) & ~(align - 1);
	void *p;

	if (need < size)
		return NULL;
	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

void *
tally_arena_dup(struct tally_arena *a, const void *src, size_t len)
{
	void *p = tally_arena_alloc(a, len ? len : 1);

	if (p != NULL && len > 0)
		memcpy(p, src, len);
	return p;
}

char *
tally_arena_strdup(struct tally_arena *a, const char *s)
{
	return tally_arena_dup(a, s, strlen(s) + 1);
}

void
tally_arena_release(struct tally_arena *a)
{
	struct tally_arena_chunk *c = a->head, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}
