/* mm-hugetlb: hugetlb memory of every kind (CRIU's maps09, maps10, memfd02-hugetlb): private anonymous (two huge
 * pages: one written, one never touched), shared anonymous, and a hugetlb memfd mapped shared and privately;
 * a child shares the private pages copy-on-write and writes one of its own. Needs 6 free huge pages of the
 * default size; without them: "READY pid=N unsupported". Prints READY, then every 250 ms
 * "tick N data=D child=C": D "ok" while every mapping holds what it should, C the child's own verdict. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HUGE (2UL << 20)

static unsigned char *priv, *shared, *mshared, *mpriv;

static unsigned char pat(int which, unsigned long i) { return (unsigned char)(which * 37 + i % 253); }

/* [from, len) of p holds pattern which (-1: zeros); byte 0 of the shared page is the child's verdict */
static int all(const unsigned char *p, unsigned long from, unsigned long len, int which)
{
	for (unsigned long i = from; i < len; i += 511)
		if (p[i] != (which < 0 ? 0 : pat(which, i)))
			return 0;
	return 1;
}

/* the parent's view: its private page, the untouched one, the shared ones, the memfd both ways */
static int parent_ok(void)
{
	return all(priv, 0, HUGE, 1) && all(priv + HUGE, 0, HUGE, -1) && all(shared, 64, HUGE, 2) && all(mshared, 0, HUGE, 3) && all(mpriv, 0, HUGE, 4);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	shared = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	int fd = (int)syscall(SYS_memfd_create, "mm-hugetlb", MFD_HUGETLB);
	if (priv == MAP_FAILED || shared == MAP_FAILED || fd < 0 || ftruncate(fd, HUGE) < 0 ||
	    (mshared = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		printf("READY pid=%d unsupported\n", getpid());
		pause();
	}
	for (unsigned long i = 0; i < HUGE; i++) {
		priv[i] = pat(1, i);
		shared[i] = pat(2, i);
		mshared[i] = pat(3, i);
	}
	mpriv = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (mpriv == MAP_FAILED) {
		printf("READY pid=%d unsupported\n", getpid());
		pause();
	}
	/* a private copy: the memfd's own page stays pattern 3 */
	for (unsigned long i = 0; i < HUGE; i++)
		mpriv[i] = pat(4, i);
	shared[0] = '?';
	pid_t child = fork();
	if (child == 0) {
		/* its own copy of the first private page; the memfd's private copy it keeps shared with the parent */
		for (unsigned long i = 0; i < HUGE; i++)
			priv[i] = pat(5, i);
		for (;;) {
			int ok = all(priv, 0, HUGE, 5) && all(priv + HUGE, 0, HUGE, -1) && all(shared, 64, HUGE, 2) && all(mshared, 0, HUGE, 3) && all(mpriv, 0, HUGE, 4);
			shared[0] = ok ? 'y' : 'n';
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	while (shared[0] == '?')
		usleep(10000);
	printf("READY pid=%d at=%lx\n", getpid(), (unsigned long)priv);
	for (unsigned long n = 0;; n++) {
		printf("tick %lu data=%s child=%s\n", n, parent_ok() ? "ok" : "bad", shared[0] == 'y' ? "ok" : "bad");
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
