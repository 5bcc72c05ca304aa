/* A parent that forks children all the time, each exiting after ~2 ms with status 7 (as ZDTM's fork2): a dump
 * meets children that end between being listed and being stopped (the parent's 32 MiB make a child's exit, the
 * window, long). The parent reaps them and checks
 * each status; "tick N reaped=R bad=B" every 100 ms. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	size_t len = 32 << 20;
	char *mem = malloc(len);
	if (!mem)
		return 1;
	memset(mem, 1, len);
	printf("READY pid=%d\n", getpid());
	long reaped = 0, bad = 0;
	struct timespec last;
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (long tick = 0;;) {
		for (int i = 0; i < 4; i++) {
			pid_t p = fork();
			if (p == 0) {
				usleep(2000);
				_exit(7);
			}
			if (p < 0)
				bad++;
		}
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			reaped++;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) {
				bad++;
				printf("BAD child %d status 0x%x\n", (int)w, status);
			}
		}
		if (w < 0 && errno != ECHILD)
			bad++;
		usleep(1000);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= 100) {
			last = now;
			printf("tick %ld reaped=%ld bad=%ld\n", ++tick, reaped, bad);
		}
	}
}
