/* zombie: a child that exits with code 7 at once and is never waited for (a zombie in the tree),
 * and a second child that keeps running. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t z = fork();
	if (z == 0)
		_exit(7);
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	printf("READY pid=%d zombie=%d child=%d\n", getpid(), z, c);
	for (unsigned long n = 1;; n++) {
		printf("tick %lu\n", n);
		nanosleep(&ts, NULL);
	}
}
