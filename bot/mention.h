/*
 * This file contains mentions of the bot outside an incident's thread (a
 * channel message "@nightshift what changed in #42?"): which incident one is
 * about — the one it names ("#42", "incident 42", or a command's trailing
 * number, "ack 42"), else the only open incident — and, when that is not
 * clear, the answer: the open incidents and how to ask about one.
 *
 * Threads: the store writer (inside its transaction), like human.c.
 */
#ifndef NIGHTSHIFT_MENTION_H
#define NIGHTSHIFT_MENTION_H

#include <stddef.h>
#include <stdint.h>

struct regex;
struct store;

/*
 * The incident text (any bytes, borrowed) is about: > 0, or 0 when it cannot
 * tell, or -1 on a store error. rest gets the text without the incident
 * reference ("ack 42" -> "ack"), for the command parser. When 0, reply gets
 * what to answer under the mention. now_ms ages the listed incidents.
 */
int64_t mention_route(struct store *s, const struct regex *ack_words, const char *text,
		      int64_t now_ms, char *rest, size_t restlen, char *reply, size_t replylen);

#endif
