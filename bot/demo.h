/*
 * This file contains the process plumbing of `nightshift demo` (demo_proc.c):
 * finding the simulator, the scenarios and the playbooks next to the binary,
 * starting child processes that die with the demo, waiting for their ready
 * files, stopping them, and the demo's signal handling. Main thread only.
 */
#ifndef NIGHTSHIFT_DEMO_H
#define NIGHTSHIFT_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A child process of the demo. */
struct demo_child {
	const char *name; /* borrowed: "simcluster", "nightshift" */
	pid_t pid;        /* 0: not started */
	bool exited;      /* reaped; status is valid */
	int status;       /* waitpid status */
};

/* The running binary's real path (/proc/self/exe) and its folder; -1 if unknown. */
int demo_exe(char *path, size_t pathlen, char *dir, size_t dirlen);

/*
 * Finds simcluster: next to the binary, in its build/ folder, in ./build/,
 * then on PATH. Writes the path into out; false when none is executable.
 */
bool demo_find_simcluster(const char *exe_dir, char *out, size_t outlen);

/*
 * Finds the folder rel ("playbooks", "contrib/simcluster/scenarios") next to
 * the binary, one level up (a binary in build/), then in the current folder.
 * Writes its real path into out; false when none exists.
 */
bool demo_find_dir(const char *exe_dir, const char *rel, char *out, size_t outlen);

/*
 * Starts argv[0] with argv as c. Its stderr (and its stdout unless
 * keep_stdout) goes to log_path, appended. The child gets SIGTERM if the
 * demo dies. Returns 0, or -1 (nothing started).
 */
int demo_spawn(struct demo_child *c, char *const argv[], const char *log_path, bool keep_stdout);

/* True while c runs (reaps it once it has exited). */
bool demo_child_alive(struct demo_child *c);

/*
 * SIGTERM, then waits up to grace_ms (SIGKILL after that). Returns the exit
 * code, 128+signal when a signal ended it, or 0 when it was never started.
 */
int demo_child_stop(struct demo_child *c, int grace_ms);

/*
 * Waits until ready_file holds a port followed by a newline, while c runs,
 * for at most timeout_ms or until an interrupt. Returns the port or -1.
 */
int demo_wait_port(const char *ready_file, struct demo_child *c, int timeout_ms);

/* SIGINT/SIGTERM set the interrupted flag (no restart); SIGCHLD wakes waits; SIGPIPE is ignored. */
void demo_signals_install(void);
void demo_signals_restore(void);
bool demo_interrupted(void);
/* The signal that interrupted the demo (SIGINT or SIGTERM), 0 if none. */
int demo_interrupt_signal(void);

/* Sleeps ms milliseconds or until a signal; used between polls. */
void demo_nap(int ms);

/* Blocks until Ctrl-C/SIGTERM or until a or b exits (--keep). */
void demo_wait_interrupt(struct demo_child *a, struct demo_child *b);

/* Removes dir and the files in it (not recursive). */
void demo_remove_dir(const char *dir);

#endif
