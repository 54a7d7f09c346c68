/*
 * This file contains the unit tests of bot/fingerprint.c: the normalisation
 * rules (pod suffixes, IPs, UUIDs, timestamps, hex, numbers) on the examples
 * the design names, and the fingerprint's independence from label order and
 * from labels it is not asked to use.
 */
#include "fingerprint.h"
#include "harness.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static struct fingerprinter *fp;

/* Checks that normalise(in) == want. */
static void check_norm(const char *in, const char *want)
{
	char *got = fingerprint_normalise(fp, in);
	CHECK_STR(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "  input: \"%s\"\n", in);
	free(got);
}

/* Checks that a and b normalise to the same string (same == true) or not. */
static void check_same(const char *a, const char *b, int same)
{
	char *na = fingerprint_normalise(fp, a), *nb = fingerprint_normalise(fp, b);
	if ((strcmp(na, nb) == 0) != same) {
		harness_current_failed++;
		fprintf(stderr, "FAIL %s: \"%s\" -> \"%s\" vs \"%s\" -> \"%s\" (want %s)\n",
			harness_current, a, na, b, nb, same ? "equal" : "different");
	}
	free(na);
	free(nb);
}

static void test_pod_names(void)
{
	check_same("api-7f9c8d-x2k4q", "api-5b6d7f-p9z1m", 1);
	check_same("checkout-7f9c8d6b5-x2k4q", "checkout-5b6d7f8c9-p9z1m", 1);
	check_same("api-7f9c8d-x2k4q", "web-7f9c8d-x2k4q", 0);
	check_same("node-exporter-x7k2p", "node-exporter-b4w8z", 1);
	check_same("web-0", "web-1", 1);
	check_same("prod/api-7f9c8d-x2k4q", "prod/api-5b6d7f-p9z1m", 1);
	check_norm("api-7f9c", "api-<pod>");
	check_norm("node-exporter-x7k2p", "node-exporter-<pod>");
	check_norm("my-app2-7f9c8d-x2k4q", "my-app2-<pod>");
	check_norm("web-0", "web-#");
	check_norm("kafka-2.kafka-headless.prod.svc", "kafka-#.kafka-headless.prod.svc");
}

static void test_words_stay(void)
{
	static const char *keep[] = {"api-proxy",
				     "web-frontend",
				     "redis-master",
				     "kube-dns",
				     "api-sync",
				     "payments",
				     "node-exporter",
				     "checkout",
				     "prometheus-kube-state-metrics",
				     ""};
	for (size_t i = 0; i < ARRAY_LEN(keep); i++)
		check_norm(keep[i], keep[i]);
}

static void test_addresses(void)
{
	check_same("ip-10-0-1-23.ec2.internal", "ip-10-0-7-201.ec2.internal", 1);
	check_norm("ip-10-0-1-23.ec2.internal", "ip-<ip>.ec2.internal");
	check_same("10.0.0.1:9100", "10.0.3.7:9100", 1);
	check_norm("10.0.0.1:9100", "<ip>");
	check_norm("192.168.1.10", "<ip>");
	check_same("2001:db8::1", "2001:db8::2", 1);
	check_norm("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "<ip>");
	check_norm("::1", "<ip>");
	check_norm("[fe80::1ff:fe23:4567:890a]:9100", "[<ip>]:#");
	check_norm("std::vector", "std::vector");
}

static void test_ids_and_times(void)
{
	check_norm("request 3f2504e0-4f89-11d3-9a0c-0305e82c3301 failed", "request <uuid> failed");
	check_norm("3F2504E0-4F89-11D3-9A0C-0305E82C3301", "<uuid>");
	check_norm("2026-11-22T23:11:15.357Z", "<ts>");
	check_norm("since 2026-11-22T23:11:15+02:00.", "since <ts>.");
	check_norm("at 2024-05-01 12:00:00 UTC", "at <ts> UTC");
	check_norm("containerd://4f2a9c8b7d6e5f4a3b2c1d0e9f8a", "containerd://<hex>");
	check_norm("sha 0123456789ab", "sha <hex>");
	check_norm("short abcdef0123", "short abcdef0123"); /* 10 hex: a word */
	check_norm("disk 95% full on sda1", "disk #% full on sda1");
	check_same("took 1234 ms", "took 87 ms", 1);
	check_norm("v1.2.3", "v1.#.#");
}

/* An alert named name with the given label pairs (owned; alert_free + free). */
static struct alert *mk(const char *name, const char *const *kv, size_t n)
{
	struct alert *a = xcalloc(1, sizeof(*a));
	alert_init(a);
	a->name = xstrdup(name);
	kv_list_set(&a->labels, "alertname", name);
	for (size_t i = 0; i + 1 < n; i += 2)
		kv_list_set(&a->labels, kv[i], kv[i + 1]);
	return a;
}

static void drop(struct alert *a)
{
	alert_free(a);
	free(a);
}

static void test_alert_fingerprint(void)
{
	static const char *const ident[] = {"namespace", "pod", "instance", "service"};
	static const char *const ident_rev[] = {"service", "instance", "pod", "namespace", "pod"};
	static const char *const l1[] = {"namespace", "prod",	  "pod",     "api-7f9c8d-x2k4q",
					 "severity",  "critical", "replica", "prometheus-0"};
	static const char *const l2[] = {"replica", "prometheus-1",	"severity",  "warning",
					 "pod",	    "api-5b6d7f-p9z1m", "namespace", "prod"};
	static const char *const l3[] = {"namespace", "staging", "pod", "api-7f9c8d-x2k4q"};
	struct alert *a = mk("KubePodCrashLooping", l1, ARRAY_LEN(l1));
	struct alert *b = mk("KubePodCrashLooping", l2, ARRAY_LEN(l2));
	struct alert *c = mk("KubePodNotReady", l1, ARRAY_LEN(l1));
	struct alert *d = mk("KubePodCrashLooping", l3, ARRAY_LEN(l3));
	const char *expect_input = "alertname=KubePodCrashLooping\nnamespace=prod\npod=api-<pod>\n";
	char want[65];

	fingerprint_alert(fp, ident, ARRAY_LEN(ident), a);
	fingerprint_alert(fp, ident_rev, ARRAY_LEN(ident_rev), b);
	fingerprint_alert(fp, ident, ARRAY_LEN(ident), c);
	fingerprint_alert(fp, ident, ARRAY_LEN(ident), d);
	CHECK_INT(strlen(a->fingerprint), 64);
	/* Order of the requested labels, pod suffix, severity and replica do not matter. */
	CHECK_STR(a->fingerprint, b->fingerprint);
	/* The exact input hashed: name, then the present requested labels, sorted. */
	sha256_hex(expect_input, strlen(expect_input), want);
	CHECK_STR(a->fingerprint, want);
	/* A different alertname or namespace is a different incident. */
	CHECK(strcmp(a->fingerprint, c->fingerprint) != 0);
	CHECK(strcmp(a->fingerprint, d->fingerprint) != 0);
	/* Asking for severity makes it count. */
	{
		static const char *const with_sev[] = {"namespace", "pod", "severity"};
		fingerprint_alert(fp, with_sev, ARRAY_LEN(with_sev), a);
		fingerprint_alert(fp, with_sev, ARRAY_LEN(with_sev), b);
		CHECK(strcmp(a->fingerprint, b->fingerprint) != 0);
	}
	/* No identifying labels at all: the name alone. */
	fingerprint_alert(fp, NULL, 0, c);
	sha256_hex("alertname=KubePodNotReady\n", strlen("alertname=KubePodNotReady\n"), want);
	CHECK_STR(c->fingerprint, want);
	drop(a);
	drop(b);
	drop(c);
	drop(d);
}

static void test_alertname_label_ignored(void)
{
	static const char *const ident[] = {"alertname", "namespace"};
	static const char *const only_ns[] = {"namespace"};
	static const char *const l[] = {"namespace", "prod"};
	struct alert *a = mk("X", l, ARRAY_LEN(l)), *b = mk("X", l, ARRAY_LEN(l));

	fingerprint_alert(fp, ident, ARRAY_LEN(ident), a);
	fingerprint_alert(fp, only_ns, ARRAY_LEN(only_ns), b);
	CHECK_STR(a->fingerprint, b->fingerprint);
	drop(a);
	drop(b);
}

/*
 * The pre-test that skips rules must never change a result: random strings
 * over the characters the rules look at, and real-shaped values, normalise
 * the same with and without it.
 */
static void test_prefilter_changes_nothing(void)
{
	static const char alphabet[] = "abefkxzABFZ0179-.:_/ <T";
	static const char *const real[] = {
	    "api-7f9c8d-x2k4q", "10.0.1.23:9100", "ip-10-0-1-23.ec2.internal",
	    "2026-11-25T12:00:00Z", "fe80::1", "web-0", "0123456789abcdef",
	    "550e8400-e29b-41d4-a716-446655440000", "node-exporter-abcde", "::", "a-b-c",
	    "deadbeef-dead-beef-dead-beefdeadbeef", "job-28391022-x7k2p", "v1.2.3",
	    /* exactly the shortest each rule can match */
	    "0123456789ab", "1.2.3.4", "1-2-3-4", "1::", "a-1", "a-bc2d-gh2kl", "a-bc2d", "2026-11-25"};
	char buf[48];
	unsigned seed = 12345;
	size_t differ = 0;

	for (int it = 0; it < 100000; it++) {
		size_t len;
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % (sizeof(buf) - 1);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		buf[len] = '\0';
		char *a = fingerprint_normalise(fp, buf), *b = fingerprint_normalise_every_rule(fp, buf);
		if (strcmp(a, b) != 0 && differ++ < 3)
			CHECK_STR(a, b);
		free(a);
		free(b);
	}
	CHECK_INT(differ, 0);
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		char *a = fingerprint_normalise(fp, real[i]);
		char *b = fingerprint_normalise_every_rule(fp, real[i]);
		CHECK_STR(a, b);
		free(a);
		free(b);
	}
}

int main(void)
{
	fp = fingerprinter_new();
	RUN(test_pod_names);
	RUN(test_words_stay);
	RUN(test_addresses);
	RUN(test_ids_and_times);
	RUN(test_alert_fingerprint);
	RUN(test_alertname_label_ignored);
	RUN(test_prefilter_changes_nothing);
	fingerprinter_free(fp);
	fingerprinter_free(NULL);
	return harness_done();
}
