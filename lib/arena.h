/*
 * arena.h - a bump allocator for building protobuf-c replies: every part of
 * one reply is taken from one arena and released at once.
 */
#ifndef TALLY_ARENA_H
#define TALLY_ARENA_H

#include <stddef.h>

struct tally_arena_chunk;
struct tally_arena {
	struct tally_arena_chunk *head;
};

#define TALLY_ARENA_INIT { NULL }

/* size bytes, zeroed, aligned for any type; NULL when out of memory.
 * Valid until tally_arena_release. */
void *tally_arena_alloc(struct tally_arena *a, size_t size);

/* Copy of len bytes (NULL when out of memory). */
void *tally_arena_dup(struct tally_arena *a, const void *p, size_t len);

/* NUL-terminated copy of s. */
char *tally_arena_strdup(struct tally_arena *a, const char *s);

/* Frees everything taken from a; a is empty and reusable afterwards. */
void tally_arena_release(struct tally_arena *a);

#endif
