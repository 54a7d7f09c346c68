/*
 * This file contains the escalation clock of esc_clock.h.
 */
#include "esc_clock.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char clock_file[512]; /* set before the threads start; "" = the wall clock */

void esc_clock_set_file(const char *path)
{
	if (path == NULL || *path == '\0') {
		clock_file[0] = '\0';
		return;
	}
	strlcpy0(clock_file, path, sizeof(clock_file));
	log_warnx("event=test_clock_enabled file=%s hint=\"testing.clock_file moves the escalation "
		  "clock; never use it in production\"",
		  clock_file);
}

int64_t esc_now_ms(void)
{
	int64_t now = now_ms();
	char buf[32];
	FILE *f;

	if (clock_file[0] == '\0')
		return now;
	f = fopen(clock_file, "r");
	if (f == NULL)
		return now;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		char *end;
		long long off = strtoll(buf, &end, 10);
		if (end != buf && off >= 0 && off < 100LL * 365 * 86400 * 1000)
			now += off;
	}
	fclose(f);
	return now;
}
