/*
 * This file contains what followup.c and followup_compose.c share and
 * nobody else uses: reading the read tools' text output line by line.
 */
#ifndef NIGHTSHIFT_FOLLOWUP_INTERNAL_H
#define NIGHTSHIFT_FOLLOWUP_INTERNAL_H

#include "followup.h"

#include <stdbool.h>
#include <stddef.h>

#define LINE_MAX_LEN 1024 /* longest tool output line read; longer ones are cut */

/* The next line of *p (without its newline) into line; false at the end. */
bool followup_next_line(const char **p, char *line, size_t len);
/* True when a tool's output is missing or an "error: …" line. */
bool followup_tool_failed(const char *out);
/* True when owner is ReplicaSet/<deployment>-<hash>. */
bool followup_owned_by_deployment(const char *owner, const char *deployment);

#endif
