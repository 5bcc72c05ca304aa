/* restore-inherit: the seed's --inherit-fd recipe. fd 3 is a socket whose peer is outside the tree (the
 * caller's end of a socketpair); fd 4 is a pipe write end whose reader is outside the tree. Every tick goes
 * to stdout, to fd 3 and to fd 4. After restore with --inherit-fd fd[N]:socket:[INO] / pipe:[INO] / PATH,
 * the new resources of the caller receive the ticks that follow. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		char b[64];
		int k = snprintf(b, sizeof(b), "tick %lu\n", n);
		printf("%s", b);
		if (write(3, b, k) < 0)
			printf("fd 3: write failed\n");
		if (write(4, b, k) < 0)
			printf("fd 4: write failed\n");
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
