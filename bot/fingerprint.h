/*
 * This file contains our fingerprint: SHA-256 over the alert name and the
 * configured identifying labels after their volatile parts (pod-template
 * hashes and random pod suffixes, UUIDs, long hex, numbers, IPs, timestamps)
 * are normalised with PCRE2, so that api-7f9c8d-x2k4q and api-5b6d7f-p9z1m of
 * one deployment group into one incident. The source's own fingerprint is
 * kept separately in alert->source_fingerprint.
 *
 * A fingerprinter holds compiled patterns; it is read-only after creation
 * and may be shared by threads.
 */
#ifndef NIGHTSHIFT_FINGERPRINT_H
#define NIGHTSHIFT_FINGERPRINT_H

#include "alert.h"

#include <stddef.h>

struct fingerprinter;

/* Returns an owned fingerprinter with the built-in rules (free with fingerprinter_free). */
struct fingerprinter *fingerprinter_new(void);
void fingerprinter_free(struct fingerprinter *fp);

/* Returns the normalised form of value (owned, free()). */
char *fingerprint_normalise(const struct fingerprinter *fp, const char *value);
/* The same without the cheap pre-test that skips rules that cannot match (for tests). */
char *fingerprint_normalise_every_rule(const struct fingerprinter *fp, const char *value);

/*
 * Sets a->fingerprint (64 hex chars) from a->name and those of labels[0..n)
 * that the alert carries, normalised. Label order in `labels` does not matter.
 */
void fingerprint_alert(const struct fingerprinter *fp, const char *const *labels, size_t n,
		       struct alert *a);

/*
 * Hashes salt into a->fingerprint (set before): alerts otherwise alike, such
 * as one dead man's switch per cluster, get their own. "" or NULL: unchanged.
 */
void fingerprint_salt(struct alert *a, const char *salt);

#endif
