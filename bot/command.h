/*
 * This file contains the commands people type in an incident's thread (or
 * after mentioning the bot): ack, resolve, silence 2h, unsilence, snooze
 * 30m, noise, real, status, help. A command is the WHOLE message (after
 * leading mentions): "resolve" is one, "please resolve this" is a question.
 * Pure parsing, thread-safe; carrying them out is bot/human.c's.
 */
#ifndef NIGHTSHIFT_COMMAND_H
#define NIGHTSHIFT_COMMAND_H

#include <stddef.h>
#include <stdint.h>

enum command_kind {
	CMD_NONE = 0, /* not a command: a question for the follow-up engine */
	CMD_ACK,
	CMD_RESOLVE,
	CMD_SILENCE, /* seconds: 1h when not given */
	CMD_UNSILENCE,
	CMD_SNOOZE, /* seconds: 30m when not given */
	CMD_NOISE,
	CMD_REAL,
	CMD_STATUS,
	CMD_HELP,
	CMD_BAD, /* a command word with a bad argument: error says why */
};

#define COMMAND_SILENCE_MAX_S (7 * 86400)
#define COMMAND_SNOOZE_MAX_S  (86400)

struct command {
	enum command_kind kind;
	int64_t seconds;
	char error[160];
};

/* Parses text (any bytes; NULL is CMD_NONE); ack_words as in escalation_ack_text_re. */
struct regex;
void command_parse(const char *text, const struct regex *ack_words, struct command *out);

/* "ack", "resolve", "silence", … (the human_events action name), or NULL for CMD_NONE/BAD. */
const char *command_name(enum command_kind k);

/* seconds as "30m", "2h", "1h30m", "7d", "45s". */
void command_format_duration(int64_t seconds, char *out, size_t outlen);

/* The one-message help of the thread commands. */
extern const char command_help[];

#endif
