/*
 * Unit tests of the store's statement cache: a slot keeps its statement, and
 * a slot used by two different statements (two files that picked the same
 * number) stops the process loudly instead of running the wrong SQL.
 */
#include "harness.h"

#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static struct store *fresh(void)
{
	char err[256];
	struct store *s = store_open(":memory:", false, err, sizeof(err));
	if (s == NULL)
		fprintf(stderr, "store_open: %s\n", err);
	return s;
}

static void test_slot_reused_by_the_same_sql(void)
{
	struct store *s = fresh();
	char sql[] = "SELECT 1";
	sqlite3_stmt *a, *b;

	a = store_stmt(s, 5, "SELECT 1");
	/* Same text from another place (another pointer): the same statement. */
	b = store_stmt(s, 5, sql);
	CHECK(a != NULL);
	CHECK(a == b);
	store_close(s);
}

static void test_slot_clash_is_fatal(void)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct store *s = fresh();
		freopen("/dev/null", "w", stderr);
		(void)store_stmt(s, 7, "SELECT 1");
		(void)store_stmt(s, 7, "SELECT 2");
		_exit(0); /* not reached when the clash is caught */
	}
	CHECK(pid > 0);
	waitpid(pid, &status, 0);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

int main(void)
{
	RUN(test_slot_reused_by_the_same_sql);
	RUN(test_slot_clash_is_fatal);
	return harness_done();
}
