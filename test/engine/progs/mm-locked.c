/* mm-locked: a MAP_LOCKED private anonymous mapping (its pages are populated by mmap itself) holding a pattern.
 * Prints READY, then every 250 ms "tick N data=D": D "ok" while every page holds its pattern. */
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGES 8

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned char *p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap MAP_LOCKED");
		return 1;
	}
	for (int i = 0; i < PAGES * 4096; i++)
		p[i] = (unsigned char)(i / 4096 * 31 + i % 251);
	printf("READY pid=%d at=%lx\n", getpid(), (unsigned long)p);
	for (unsigned long n = 0;; n++) {
		const char *d = "ok";
		for (int i = 0; i < PAGES * 4096; i++)
			if (p[i] != (unsigned char)(i / 4096 * 31 + i % 251))
				d = "bad";
		printf("tick %lu data=%s\n", n, d);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
