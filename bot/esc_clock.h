/*
 * This file contains the escalation clock: the one place escalation time
 * (nags, acks, snoozes, ack timeouts) comes from. In production it is the
 * wall clock. TEST-ONLY: with `testing: {clock_file: PATH}` in the config —
 * which config_load() refuses unless NIGHTSHIFT_ALLOW_TEST_CLOCK=1 is in the
 * environment — PATH holds an offset in milliseconds (a decimal integer,
 * re-read on every call) added to the wall clock, so a test fast-forwards
 * hours of nags in milliseconds. A missing or unreadable file means offset 0.
 *
 * Threads: esc_clock_set_file() before the threads start (loop thread);
 * esc_now_ms() from any thread.
 */
#ifndef NIGHTSHIFT_ESC_CLOCK_H
#define NIGHTSHIFT_ESC_CLOCK_H

#include <stdint.h>

/* Sets (or with NULL clears) the offset file. Logs a warning when set. */
void esc_clock_set_file(const char *path);
/* Wall clock in ms since the epoch, plus the test offset when one is set. */
int64_t esc_now_ms(void);

#endif
