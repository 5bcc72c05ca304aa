/* mm-cow: private pages shared copy-on-write by a parent, its child and its grandchild. Before forking, the
 * parent writes pages 0-3 and 5 of an anonymous area (between two guard pages, so that it stays one VMA) and
 * pages 0-1 of a MAP_PRIVATE mapping of FILE; then the parent writes page 1, the child writes page 2 and
 * drops page 5 (MADV_DONTNEED) and writes file page 1, then forks the grandchild, which writes page 3.
 * Prints READY, then every 250 ms
 *   "tick N data=D anon=A0,A1,A2,A3,A5 file=F0,F1"
 * D "ok" when each of the three finds the contents it should (else which one and which page; the dropped
 * page is not read, so that it stays without a page), each A/F
 * which of parent, child, grandchild share the page's frame: one letter each, equal letters for the same
 * page frame, '-' for no page (e.g. "abb": the child and the grandchild share it, the parent has its own).
 * Reading other processes' page frames needs root (CAP_SYS_ADMIN). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define NPAGES 6

struct shared { volatile int pids[3]; volatile char bad[3][32]; };

static char *anon, *file;
static struct shared *sh;

static void fill(char *p, int tag) { memset(p, tag, PG); }

static int is(const char *p, int tag)
{
	for (int i = 0; i < PG; i++)
		if (p[i] != (char)tag)
			return 0;
	return 1;
}

/* what role r (0 parent, 1 child, 2 grandchild) must see: anon pages, then the two file pages */
static void check(int r)
{
	static const int want[3][NPAGES] = {
		{ 'A', 'P', 'C', 'D', 0, 'F' },
		{ 'A', 'B', 'c', 'D', 0, -1 },
		{ 'A', 'B', 'c', 'g', 0, -1 },
	};
	static const int fwant[3][2] = { { 'X', 'f' }, { 'X', 'k' }, { 'X', 'k' } };
	char msg[32] = "ok";
	for (int i = 0; i < NPAGES; i++)
		if ((r == 0 || i != 5) && !is(anon + i * PG, want[r][i]))  /* not the dropped page: reading it maps the zero page */
			snprintf(msg, sizeof(msg), "%c:anon%d", "pcg"[r], i);
	for (int i = 0; i < 2; i++)
		if (!is(file + i * PG, fwant[r][i]))
			snprintf(msg, sizeof(msg), "%c:file%d", "pcg"[r], i);
	memcpy((char *)sh->bad[r], msg, sizeof(msg));
}

static uint64_t frame(int pid, const void *addr)
{
	char path[64];
	uint64_t e = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)addr / PG * 8)) != 8)
		e = 0;
	if (fd >= 0)
		close(fd);
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* "abb": parent, child, grandchild by page frame */
static void sharing(const void *addr, char out[4])
{
	uint64_t f[3];
	for (int r = 0; r < 3; r++)
		f[r] = frame(sh->pids[r], addr);
	char next = 'a';
	for (int r = 0; r < 3; r++) {
		out[r] = '-';
		if (!f[r])
			continue;
		for (int q = 0; q < r; q++)
			if (f[q] == f[r])
				out[r] = out[q];
		if (out[r] == '-')
			out[r] = next++;
	}
	out[3] = 0;
}

static void nap(void)
{
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: mm-cow FILE\n");
		return 1;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	char buf[PG];
	memset(buf, 'X', PG);
	if (fd < 0 || write(fd, buf, PG) != PG || (memset(buf, 'x', PG), write(fd, buf, PG)) != PG) {
		perror(argv[1]);
		return 1;
	}
	sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *area = mmap(NULL, (NPAGES + 2) * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	file = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (sh == MAP_FAILED || area == MAP_FAILED || file == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd);
	/* guard pages on both sides: the area stays a VMA of its own in every process */
	mprotect(area, PG, PROT_NONE);
	mprotect(area + (NPAGES + 1) * PG, PG, PROT_NONE);
	anon = area + PG;
	fill(anon, 'A'); fill(anon + PG, 'B'); fill(anon + 2 * PG, 'C'); fill(anon + 3 * PG, 'D'); fill(anon + 5 * PG, 'F');
	file[0] = 'X';  /* a private copy of file page 0, with the file's contents */
	fill(file + PG, 'f');
	sh->pids[0] = getpid();
	int ready[2];
	if (pipe(ready))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sh->pids[1] = getpid();
		fill(anon + 2 * PG, 'c');
		madvise(anon + 5 * PG, PG, MADV_DONTNEED);
		fill(file + PG, 'k');
		pid_t g = fork();
		if (g == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			sh->pids[2] = getpid();
			fill(anon + 3 * PG, 'g');
			if (write(ready[1], "g", 1) != 1)
				_exit(1);
			for (;;) {
				check(2);
				nap();
			}
		}
		for (;;) {
			check(1);
			nap();
		}
	}
	fill(anon + PG, 'P');
	char c;
	if (read(ready[0], &c, 1) != 1)
		return 1;
	while (!sh->bad[1][0] || !sh->bad[2][0]) /* the first ticks report every process's first check */
		nap();
	printf("READY pid=%d child=%d grandchild=%d\n", getpid(), sh->pids[1], sh->pids[2]);
	for (unsigned long n = 0;; n++) {
		check(0);
		char data[100] = "ok";
		for (int r = 0; r < 3; r++)
			if (strcmp((const char *)sh->bad[r], "ok"))
				snprintf(data, sizeof(data), "%s", (const char *)sh->bad[r]);
		char s[8][4];
		const int pages[] = { 0, 1, 2, 3, 5 };
		for (int i = 0; i < 5; i++)
			sharing(anon + pages[i] * PG, s[i]);
		sharing(file, s[5]);
		sharing(file + PG, s[6]);
		printf("tick %lu data=%s anon=%s,%s,%s,%s,%s file=%s,%s\n", n, data, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
		nap();
	}
}
