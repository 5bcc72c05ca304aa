/* mm-guard: guard pages (madvise MADV_GUARD_INSTALL, Linux 6.13+) in a private anonymous mapping and a private
 * file mapping of FILE. Prints READY, then every 250 ms "tick N guards=G data=D": G "ok" while touching each
 * guard page faults and no other page does, D "ok" while the other pages hold their data. A kernel without
 * guard pages: "READY pid=N unsupported", then nothing. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define PG 4096

static sigjmp_buf jb;
static void on_segv(int s) { (void)s; siglongjmp(jb, 1); }

/* 1 if reading p faults */
static int faults(volatile char *p)
{
	if (sigsetjmp(jb, 1))
		return 1;
	(void)*p;
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: mm-guard FILE\n");
		return 1;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 2 * PG) < 0) {
		perror(argv[1]);
		return 1;
	}
	char *anon = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *file = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (anon == MAP_FAILED || file == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd);
	for (int i = 0; i < 4; i++)
		memset(anon + i * PG, 'a' + i, PG);
	memset(file + PG, 'f', PG);
	if (madvise(anon + PG, 2 * PG, MADV_GUARD_INSTALL) || madvise(file, PG, MADV_GUARD_INSTALL)) {
		printf("READY pid=%d unsupported\n", getpid());
		pause();
	}
	signal(SIGSEGV, on_segv);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 0;; n++) {
		int g = faults(anon + PG) && faults(anon + 2 * PG) && faults(file) && !faults(anon) && !faults(anon + 3 * PG) && !faults(file + PG);
		int d = anon[0] == 'a' && anon[4 * PG - 1] == 'd' && file[PG] == 'f' && file[2 * PG - 1] == 'f';
		printf("tick %lu guards=%s data=%s\n", n, g ? "ok" : "bad", d ? "ok" : "bad");
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
