/*
 * This file contains quiet hours (README "Escalation"): a daily window such
 * as "22:00-07:00 Europe/Berlin" during which non-critical nags wait. The
 * window is local wall-clock time of an IANA time zone (daylight saving
 * included, computed by the C library from the system tz database) or of a
 * fixed offset from UTC.
 *
 * Threads: everything here may be called from any thread. quiet_until()
 * switches TZ under a process-wide mutex for the length of one call and puts
 * it back; nightshift formats no other time in local time (logs are UTC), so
 * nothing else sees the switch.
 */
#ifndef NIGHTSHIFT_QUIET_H
#define NIGHTSHIFT_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUIET_ZONE_MAX 64 /* longest zone name accepted, NUL included */

struct quiet_hours {
	int from, to;              /* minutes of the day; to exclusive; may wrap midnight */
	int offset;                /* minutes east of UTC, when zone is "" */
	char zone[QUIET_ZONE_MAX]; /* an IANA zone ("Europe/Berlin"), or "" for offset */
};

/*
 * Parses "22:00-07:00" (UTC), "22:00-07:00 UTC", "22:00-07:00 +02:00" or
 * "22:00-07:00 Europe/Berlin" into q. A zone must exist in the system tz
 * database (quiet_zone_exists). 0, or -1 with why (what was wrong).
 */
int quiet_parse(const char *s, struct quiet_hours *q, char *why, size_t whylen);

/* True when zone names a time zone file of /usr/share/zoneinfo ("TZif"). */
bool quiet_zone_exists(const char *zone);

/*
 * When now (ms since the epoch) falls inside q: the first minute after it
 * that does not (ms), found on the local clock, so a DST switch inside the
 * window moves its end in UTC. Else 0.
 */
int64_t quiet_until(const struct quiet_hours *q, int64_t now);

#endif
