/*
 * This file contains the utilities declared in util.h: fatal-on-OOM
 * allocators, the capped growable buffer, clocks and time parsing, durations,
 * SHA-256 (OpenSSL EVP, the one digest the fingerprint needs) and RSS.
 */
#include "util.h"

#include "log.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		fatal("event=oom bytes=%zu", n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (p == NULL)
		fatal("event=oom bytes=%zu", count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		fatal("event=oom bytes=%zu", n);
	return q;
}

char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out;
	int n;
	char probe[1];

	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof(probe), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("event=format_error");
	out = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (b->cap && b->len + extra > b->cap)
		return -1;
	if (need > b->alloc) {
		size_t n = b->alloc ? b->alloc : 64;
		while (n < need)
			n *= 2;
		b->data = xrealloc(b->data, n);
		b->alloc = n;
	}
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char probe[1];

	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof(probe), fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (; *p; p++) {
		int r;
		switch (*p) {
		case '"': r = buf_append(b, "\\\"", 2); break;
		case '\\': r = buf_append(b, "\\\\", 2); break;
		case '\n': r = buf_append(b, "\\n", 2); break;
		case '\r': r = buf_append(b, "\\r", 2); break;
		case '\t': r = buf_append(b, "\\t", 2); break;
		default:
			if (*p < 0x20)
				r = buf_printf(b, "\\u%04x", *p);
			else
				r = buf_append(b, p, 1);
		}
		if (r < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

char *buf_detach(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int parse_time_ms(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, offh = 0, offm = 0, sign = 0;
	const char *p = s;
	struct tm tm;

	if (s == NULL || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
		}
		if (*p == '.' || *p == ',') {
			int scale = 100;
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p)) {
				ms += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &offh))
			return -1;
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &offm))
			return -1;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (y <= 1) { /* Go's zero time: "not set" */
		*out = 0;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = ((int64_t)timegm(&tm) - sign * (offh * 3600 + offm * 60)) * 1000 + ms;
	return 0;
}

void format_time(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int parse_duration(const char *s, int64_t *seconds)
{
	int64_t total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p) {
		int64_t v = 0;
		int64_t unit;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (v > 100000000)
				return -1;
		}
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		p++;
		total += v * unit;
	}
	*seconds = total;
	return 0;
}

void format_duration(int64_t s, char *out, size_t outlen)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outlen, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(out, outlen, "%lld min", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, outlen, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, outlen, "%lldd %lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}

/*
 * OpenSSL 3 looks the algorithm up on every EVP_sha256() digest (about 9,000
 * instructions, more than hashing a label set): fetch it once.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

void sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char digitset[] = "0123456789abcdef";

	pthread_once(&sha256_once, sha256_init);
	if (!EVP_Digest(p, n, md, &mdlen, sha256_md ? sha256_md : EVP_sha256(), NULL) ||
	    mdlen != 32)
		fatal("event=sha256_failed");
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digitset[md[i] >> 4];
		hex[2 * i + 1] = digitset[md[i] & 15];
	}
	hex[64] = '\0';
}

bool secret_equal(const char *a, const char *b)
{
	char ha[65], hb[65];
	unsigned char diff = 0;

	if (a == NULL || b == NULL)
		return false;
	/* Comparing digests hides the length and the position of a difference. */
	sha256_hex(a, strlen(a), ha);
	sha256_hex(b, strlen(b), hb);
	for (int i = 0; i < 64; i++)
		diff |= (unsigned char)(ha[i] ^ hb[i]);
	return diff == 0;
}

void strlcpy0(char *out, const char *in, size_t outlen)
{
	size_t n;
	if (outlen == 0)
		return;
	n = in ? strlen(in) : 0;
	if (n >= outlen)
		n = outlen - 1;
	if (n)
		memcpy(out, in, n);
	out[n] = '\0';
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

long process_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}
