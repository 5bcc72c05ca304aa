/* mm-hugetlb: a private anonymous MAP_HUGETLB mapping, left untouched (MAP_NORESERVE: no huge page needs to be
 * free, so it works wherever hugetlbfs exists). Prints READY, then a tick every 250 ms; a kernel without
 * hugetlbfs: "READY pid=N unsupported", then nothing. */
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	void *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		printf("READY pid=%d unsupported\n", getpid());
		pause();
	}
	printf("READY pid=%d at=%lx\n", getpid(), (unsigned long)p);
	for (unsigned long n = 0;; n++) {
		printf("tick %lu\n", n);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
