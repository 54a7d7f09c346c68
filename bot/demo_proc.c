/*
 * This file contains the process plumbing of demo.h. Children are started
 * with fork/exec, get PR_SET_PDEATHSIG so that they cannot outlive the demo
 * (even a SIGKILLed one), and are stopped with SIGTERM and a bounded wait.
 * Waits poll for an event (a ready file, a child's exit, a signal) with a
 * short nap and a generous deadline, never a fixed sleep.
 */
#include "demo.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_interrupt; /* the signal number, 0 if none */
static struct sigaction g_old_int, g_old_term, g_old_chld, g_old_pipe;

static void on_interrupt(int sig)
{
	g_interrupt = sig;
}

static void on_child(int sig)
{
	(void)sig; /* only wakes sigsuspend and naps */
}

void demo_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_interrupt; /* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, &g_old_int);
	sigaction(SIGTERM, &sa, &g_old_term);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &g_old_chld);
	/* `nightshift demo | head` must still stop its children and clean up. */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, &g_old_pipe);
}

void demo_signals_restore(void)
{
	sigaction(SIGINT, &g_old_int, NULL);
	sigaction(SIGTERM, &g_old_term, NULL);
	sigaction(SIGCHLD, &g_old_chld, NULL);
	sigaction(SIGPIPE, &g_old_pipe, NULL);
}

bool demo_interrupted(void)
{
	return g_interrupt != 0;
}

int demo_interrupt_signal(void)
{
	return g_interrupt;
}

void demo_nap(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	(void)nanosleep(&ts, NULL); /* a signal ends it early, which is what we want */
}

int demo_exe(char *path, size_t pathlen, char *dir, size_t dirlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	strlcpy0(path, exe, pathlen);
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	strlcpy0(dir, exe[0] ? exe : "/", dirlen);
	return 0;
}

static bool is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool demo_find_simcluster(const char *exe_dir, char *out, size_t outlen)
{
	char cand[PATH_MAX];
	const char *path = getenv("PATH");

	if (exe_dir != NULL) {
		snprintf(cand, sizeof(cand), "%s/simcluster", exe_dir);
		if (is_executable(cand))
			return strlcpy0(out, cand, outlen), true;
		snprintf(cand, sizeof(cand), "%s/build/simcluster", exe_dir);
		if (is_executable(cand))
			return strlcpy0(out, cand, outlen), true;
	}
	if (is_executable("build/simcluster") && realpath("build/simcluster", cand) != NULL)
		return strlcpy0(out, cand, outlen), true;
	while (path != NULL && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0) {
			snprintf(cand, sizeof(cand), "%.*s/simcluster", (int)n, path);
			if (is_executable(cand))
				return strlcpy0(out, cand, outlen), true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

bool demo_find_dir(const char *exe_dir, const char *rel, char *out, size_t outlen)
{
	char cand[PATH_MAX], real[PATH_MAX];

	for (int i = 0; exe_dir != NULL && i < 2; i++) {
		snprintf(cand, sizeof(cand), i ? "%s/../%s" : "%s/%s", exe_dir, rel);
		if (is_dir(cand) && realpath(cand, real) != NULL)
			return strlcpy0(out, real, outlen), true;
	}
	if (is_dir(rel) && realpath(rel, real) != NULL)
		return strlcpy0(out, real, outlen), true;
	return false;
}

int demo_spawn(struct demo_child *c, char *const argv[], const char *log_path, bool keep_stdout)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		sigset_t none;

		/* Die with the demo, even when it is SIGKILLed; a parent already gone is too late. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			if (!keep_stdout)
				dup2(fd, STDOUT_FILENO);
		}
		if (!keep_stdout && fd < 0)
			(void)freopen("/dev/null", "w", stdout);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "nightshift demo: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	c->pid = pid;
	c->exited = false;
	c->status = 0;
	return 0;
}

bool demo_child_alive(struct demo_child *c)
{
	if (c->pid <= 0 || c->exited)
		return false;
	if (waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
		c->exited = true;
		return false;
	}
	return true;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int demo_child_stop(struct demo_child *c, int grace_ms)
{
	int64_t until;

	if (c->pid <= 0)
		return 0;
	if (demo_child_alive(c)) {
		kill(c->pid, SIGTERM);
		until = mono_ms() + grace_ms;
		while (demo_child_alive(c) && mono_ms() < until)
			demo_nap(10);
		if (!c->exited) {
			kill(c->pid, SIGKILL);
			if (waitpid(c->pid, &c->status, 0) == c->pid)
				c->exited = true;
		}
	}
	return exit_code(c->status);
}

int demo_wait_port(const char *ready_file, struct demo_child *c, int timeout_ms)
{
	int64_t until = mono_ms() + timeout_ms;

	while (mono_ms() < until && !demo_interrupted()) {
		FILE *f = fopen(ready_file, "r");
		if (f != NULL) {
			char line[32] = "";
			bool got = fgets(line, sizeof(line), f) != NULL;
			fclose(f);
			/* A port followed by a newline: the whole line has been written. */
			if (got && strchr(line, '\n') != NULL) {
				char *end;
				long port = strtol(line, &end, 10);
				if (end != line && *end == '\n' && port > 0 && port < 65536)
					return (int)port;
			}
		}
		if (!demo_child_alive(c))
			return -1;
		demo_nap(20);
	}
	return -1;
}

void demo_wait_interrupt(struct demo_child *a, struct demo_child *b)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	/* Checked with the signals blocked, so none is lost before sigsuspend. */
	while (!demo_interrupted() && demo_child_alive(a) && demo_child_alive(b))
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void demo_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}
