/*
 * This file contains the quiet hours of quiet.h: parsing the window and its
 * zone, checking a zone against the system tz database, and finding the end
 * of the window by walking the local clock a minute at a time (so a DST
 * switch, a skipped or a repeated hour, moves the end where a person
 * reading the wall clock would put it).
 */
#include "quiet.h"

#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo"
#define DAY_MIN	 (24 * 60)

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* "HH:MM" at s into minutes of the day; 0 or -1. */
static int hhmm(const char *s, int *minutes)
{
	if (!(s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' &&
	      s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9'))
		return -1;
	*minutes = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
	return *minutes < DAY_MIN ? 0 : -1;
}

/* A zone name as the tz database spells them: "Area/City_Name", no "..", no leading '/'. */
static bool zone_name_ok(const char *z)
{
	size_t n = strlen(z);

	if (n == 0 || n >= QUIET_ZONE_MAX || !((z[0] >= 'A' && z[0] <= 'Z') ||
					       (z[0] >= 'a' && z[0] <= 'z')))
		return false;
	if (strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-/") != n)
		return false;
	return strstr(z, "..") == NULL && strstr(z, "//") == NULL && z[n - 1] != '/';
}

bool quiet_zone_exists(const char *zone)
{
	char path[sizeof(ZONEINFO) + QUIET_ZONE_MAX + 1], magic[4];
	struct stat st;
	bool ok;
	int fd;

	if (zone == NULL || !zone_name_ok(zone))
		return false;
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO, zone);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	     read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	     memcmp(magic, "TZif", sizeof(magic)) == 0;
	close(fd);
	return ok;
}

int quiet_parse(const char *s, struct quiet_hours *q, char *why, size_t whylen)
{
	int off;

	memset(q, 0, sizeof(*q));
	if (s == NULL || strlen(s) < 11 || hhmm(s, &q->from) < 0 || s[5] != '-' ||
	    hhmm(s + 6, &q->to) < 0 || (s[11] != '\0' && s[11] != ' '))
		return snprintf(why, whylen, "not \"HH:MM-HH:MM\""), -1;
	if (q->from == q->to)
		return snprintf(why, whylen, "the window is empty (from equals to)"), -1;
	s += 11;
	if (*s == '\0' || strcmp(s, " UTC") == 0)
		return 0;
	s++;
	if (*s == '+' || *s == '-') {
		if (hhmm(s + 1, &off) < 0 || s[6] != '\0' || off > 14 * 60)
			return snprintf(why, whylen, "bad offset (use +HH:MM or -HH:MM)"), -1;
		q->offset = *s == '-' ? -off : off;
		return 0;
	}
	if (!zone_name_ok(s))
		return snprintf(why, whylen, "\"%.64s\" is not a time zone name", s), -1;
	if (!quiet_zone_exists(s))
		return snprintf(why, whylen,
				"unknown time zone \"%.64s\" (not in " ZONEINFO
				"; is the tzdata package installed?)",
				s),
		       -1;
	strlcpy0(q->zone, s, sizeof(q->zone));
	return 0;
}

/* Minute of the day at t on q's clock (-1 when unknown); a zone's caller holds tz_lock. */
static int local_minute(const struct quiet_hours *q, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (q->zone[0] == '\0')
		return (int)(((t / 60 + q->offset) % DAY_MIN + DAY_MIN) % DAY_MIN);
	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	return tm.tm_hour * 60 + tm.tm_min;
}

static bool inside(const struct quiet_hours *q, int m)
{
	if (m < 0)
		return false;
	return q->from < q->to ? m >= q->from && m < q->to : m >= q->from || m < q->to;
}

/*
 * Switches TZ to zone (with the lock held) and returns what to put back;
 * an unset TZ comes back as ":/etc/localtime", its glibc meaning, so the
 * environment is not reshaped at every call.
 */
static char *zone_enter(const char *zone)
{
	const char *old = getenv("TZ");
	char tz[QUIET_ZONE_MAX + 1];
	char *saved = xstrdup(old ? old : ":/etc/localtime");

	snprintf(tz, sizeof(tz), ":%s", zone);
	setenv("TZ", tz, 1);
	tzset();
	return saved;
}

static void zone_leave(char *saved)
{
	setenv("TZ", saved, 1);
	tzset();
	free(saved);
}

int64_t quiet_until(const struct quiet_hours *q, int64_t now)
{
	int64_t minute = (now >= 0 ? now : now - 59999) / 60000, end = 0;
	char *saved = NULL;

	if (q == NULL || q->from < 0 || q->to < 0 || q->from == q->to)
		return 0;
	if (q->zone[0] != '\0') {
		pthread_mutex_lock(&tz_lock);
		saved = zone_enter(q->zone);
	}
	/* Two days bound the walk: a window is under a day, a zone moves at most hours. */
	if (inside(q, local_minute(q, minute * 60)))
		for (int64_t i = 1; i <= 2 * DAY_MIN && end == 0; i++)
			if (!inside(q, local_minute(q, (minute + i) * 60)))
				end = (minute + i) * 60000;
	if (saved != NULL) {
		zone_leave(saved);
		pthread_mutex_unlock(&tz_lock);
	}
	return end;
}
