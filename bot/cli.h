/*
 * This file contains the read-only and one-shot commands of the CLI
 * (incidents, replay) and the demo; bot/main.c parses arguments and calls
 * them. Each returns the process exit code.
 */
#ifndef NIGHTSHIFT_CLI_H
#define NIGHTSHIFT_CLI_H

#include <stdbool.h>

struct config;

int cli_incidents(const struct config *cfg, bool json, int limit);
int cli_replay(const struct config *cfg, const char *payload_path, const char *format);
int cli_demo(bool keep);
int cli_playbooks(const struct config *cfg);
/* Answers question about the incident (prints it; posts nothing) or, with queue, queues it. */
int cli_ask(const struct config *cfg, const char *incident, const char *question, bool queue,
	    const char *user);

#endif
