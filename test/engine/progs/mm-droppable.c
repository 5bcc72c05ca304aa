/* mm-droppable: a MAP_DROPPABLE page and a MADV_WIPEONFORK page, both written, and a child forked after
 * (which sees both zeroed). Prints READY, then every 250 ms
 * "tick N droppable=D wipeonfork=W fork=F child=C":
 * D "data" or "zero" (the kernel may drop it at any time; a restore brings it back zeroed), W "data" while the
 * parent's page keeps what it wrote, F what a child forked now finds in both pages ("zero" as the kernel
 * promises, else "data"), C the first child's own view of its pages ("zero" expected; read from a pipe).
 * A kernel without MAP_DROPPABLE (before 6.11): "READY pid=N unsupported", then nothing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static const char data[] = "droppable or wiped on fork";

static int zero(const char *p)
{
	for (size_t i = 0; i < sizeof(data); i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *dp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (dp == MAP_FAILED && errno == EINVAL) {
		printf("READY pid=%d unsupported\n", getpid());
		pause();
	}
	char *wf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dp == MAP_FAILED || wf == MAP_FAILED || madvise(wf, 4096, MADV_WIPEONFORK)) {
		perror("MAP_DROPPABLE / MADV_WIPEONFORK");
		return 1;
	}
	memcpy(dp, data, sizeof(data));
	memcpy(wf, data, sizeof(data));
	int p[2];
	if (pipe(p))
		return 1;
	pid_t child = fork();
	if (child == 0) {  /* reports its pages every 250 ms */
		close(p[0]);
		for (;;) {
			char c = zero(dp) && zero(wf) ? 'z' : 'd';
			if (write(p[1], &c, 1) != 1)
				_exit(1);
			struct timespec ts = { 0, 250 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	close(p[1]);
	printf("READY pid=%d child=%d\n", getpid(), child);
	for (unsigned long n = 0;; n++) {
		char c = '?';
		if (read(p[0], &c, 1) != 1)
			c = '?';
		pid_t k = fork();
		if (k == 0)
			_exit(zero(dp) && zero(wf) ? 0 : 1);
		int st = -1;
		waitpid(k, &st, 0);
		printf("tick %lu droppable=%s wipeonfork=%s fork=%s child=%s\n", n, zero(dp) ? "zero" : "data",
		       memcmp(wf, data, sizeof(data)) ? "lost" : "data", st == 0 ? "zero" : "data",
		       c == 'z' ? "zero" : c == 'd' ? "data" : "gone");
	}
}
