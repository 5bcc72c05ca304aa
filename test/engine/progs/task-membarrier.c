/* task-membarrier: membarrier(2) registrations, per mm (zdtm membarrier). The parent registers for global and
 * private expedited barriers, its child for private expedited sync-core ones only (which GET_REGISTRATIONS
 * shows as private expedited too, though a plain private expedited barrier is refused to it). Every tick each
 * checks its own: MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3+) and which private barriers run. The child sends
 * its verdict through a pipe; the parent prints "tick N ok" or "tick N BAD ...". */
#include <errno.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GET_REGISTRATIONS (1 << 9)

static int membarrier(int cmd) { return (int)syscall(SYS_membarrier, cmd, 0, 0); }

/* 0 when GET_REGISTRATIONS gives `want` and of the private expedited barriers exactly those in `runs` run (the
 * others fail with EPERM); else why, in out */
static int check(int want, int runs, char *out, size_t len)
{
	int got = membarrier(GET_REGISTRATIONS);
	if (got != want) {
		snprintf(out, len, "registrations 0x%x, want 0x%x (%s)", got, want, got < 0 ? strerror(errno) : "");
		return 1;
	}
	static const int cmds[] = { MEMBARRIER_CMD_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE };
	for (unsigned k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		int r = membarrier(cmds[k]), run = runs & cmds[k];
		if (run ? r != 0 : !(r < 0 && errno == EPERM)) {
			snprintf(out, len, "barrier 0x%x: %d (%s), should run: %d", cmds[k], r, r < 0 ? strerror(errno) : "", !!run);
			return 1;
		}
	}
	return 0;
}

static int register_for(int mask)
{
	for (int bit = 0; bit < 32; bit++)
		if (mask & (1 << bit) && membarrier(1 << bit) < 0)
			return -1;
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const int mine = MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
	const int childs = MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;
	int supported = membarrier(MEMBARRIER_CMD_QUERY);
	if (supported < 0 || (supported & (mine | childs | GET_REGISTRATIONS)) != (mine | childs | GET_REGISTRATIONS)) {
		printf("BAD setup: membarrier supports 0x%x, this test needs 0x%x\n", supported, mine | childs | GET_REGISTRATIONS);
		return 1;
	}
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		close(fds[0]);
		char why[256] = "";
		if (register_for(childs) < 0)
			snprintf(why, sizeof(why), "register: %s", strerror(errno));
		for (;;) {
			char verdict = why[0] || check(childs | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, why, sizeof(why)) ? 'b' : 'o';
			if (verdict == 'b')
				printf("child BAD %s\n", why);
			if (write(fds[1], &verdict, 1) != 1)
				return 1;
			struct timespec ts = { 0, 200 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	close(fds[1]);
	if (register_for(mine) < 0) {
		printf("BAD setup: register: %s\n", strerror(errno));
		return 1;
	}
	printf("READY pid=%d child=%d\n", getpid(), child);
	for (unsigned long n = 1;; n++) {
		char why[256], verdict;
		if (read(fds[0], &verdict, 1) != 1)
			printf("tick %lu BAD the child is gone\n", n);
		else if (check(mine, MEMBARRIER_CMD_PRIVATE_EXPEDITED, why, sizeof(why)))
			printf("tick %lu BAD parent: %s\n", n, why);
		else if (verdict != 'o')
			printf("tick %lu BAD child: its registrations or barriers differ\n", n);
		else
			printf("tick %lu ok\n", n);
	}
}
