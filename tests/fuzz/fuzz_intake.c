/*
 * This file contains the libFuzzer target for the payload parsers: every
 * input is parsed as each format (auto-detected and each explicit one), each
 * resulting alert is fingerprinted, and everything is released, so ASan and
 * UBSan see every path and LeakSanitizer every allocation.
 */
#include "fingerprint.h"
#include "intake.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The identifying labels a typical config asks for. */
static const char *const ident[] = {"namespace", "pod",	    "instance", "job",
				    "service",	 "cluster", "monitor",	"ruleId"};

/* One fingerprinter for the whole run (read-only; reachable, so not a leak). */
static struct fingerprinter *shared_fp(void)
{
	static struct fingerprinter *fp;
	if (fp == NULL)
		fp = fingerprinter_new();
	return fp;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum intake_format formats[] = {
	    INTAKE_AUTO, INTAKE_ALERTMANAGER, INTAKE_GRAFANA, INTAKE_UPTIME_KUMA, INTAKE_GENERIC};

	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct intake_result r;
		int rc = intake_parse((const char *)data, size, formats[f], &r);

		if (rc == 0) {
			for (size_t i = 0; i < r.n; i++) {
				struct alert *a = &r.alerts[i];
				/* The contract: never-NULL strings, alertname among the labels. */
				if (a->name == NULL || a->summary == NULL || a->workload == NULL ||
				    a->raw == NULL || a->source_fingerprint == NULL ||
				    kv_list_get(&a->labels, "alertname") == NULL)
					__builtin_trap();
				fingerprint_alert(shared_fp(), ident,
						  sizeof(ident) / sizeof(ident[0]), a);
				if (strlen(a->fingerprint) != 64)
					__builtin_trap();
			}
			if (r.n == 0 && !r.test_message)
				__builtin_trap();
		} else if ((r.http_status != 400 && r.http_status != 422) || r.error[0] == '\0' ||
			   r.n != 0) {
			__builtin_trap();
		}
		intake_result_release(&r);
	}
	return 0;
}
