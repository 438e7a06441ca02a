/*
 * client_int.h - internals shared by client.c (connection, framing) and
 * rpc.c (response validation, one-shot requests). Not for other users.
 */
#ifndef JIG_CLIENT_INT_H
#define JIG_CLIENT_INT_H

#include "jig.pb-c.h"

struct jig_client;

/* Marks c unusable after a protocol error seen above the framing layer
 * (e.g. a response that answers another request). */
void jig_client_mark_broken(struct jig_client *c);

/* Checks the sizes of a received Response as documented for
 * jig_client_recv. Returns 0 or TALLY_ERR_INVALID. */
int jig_response_check(const Tally__Response *r);

#endif
