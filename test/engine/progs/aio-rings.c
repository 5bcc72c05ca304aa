/* aio-rings: argv[1] = working dir. Two kernel AIO contexts (io_setup):
 *  A (64 requests): nr+2 one-byte writes to /dev/null submitted, every other one reaped, so its tail has wrapped
 *    behind its head with events left unread;
 *  B (8 requests): three 8-byte reads of data.bin submitted and none reaped: three events wait in the ring.
 * Prints READY with both rings, then a tick a quarter second. On SIGUSR1 it checks its own state and prints
 * "CHECK ok" or "CHECK BAD <why>": both context ids (the rings' addresses) still answer io_getevents, A's
 * header is as it was, its unread events come back in order, B's three reads come back with their data, and
 * one more write on A moves its tail by one. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, header_length; struct io_event ev[]; };

static void die(const char *m) { perror(m); exit(1); }
static long io_setup_(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long io_submit_(aio_context_t c, long n, struct iocb **p) { return syscall(SYS_io_submit, c, n, p); }
static long io_getevents_(aio_context_t c, long mn, long mx, struct io_event *e) { return syscall(SYS_io_getevents, c, mn, mx, e, NULL); }

static volatile sig_atomic_t check;
static void on_usr1(int s) { (void)s; check = 1; }

static char wbuf[1], rbuf[3][8];

static int verify(aio_context_t a, aio_context_t b, unsigned head0, unsigned tail0, unsigned nr0, char *why, size_t n)
{
	volatile struct ring *ra = (volatile struct ring *)a;
	if (ra->head != head0 || ra->tail != tail0 || ra->nr != nr0)
		return snprintf(why, n, "A head/tail/nr %u/%u/%u, dumped %u/%u/%u", ra->head, ra->tail, ra->nr, head0, tail0, nr0), 0;
	unsigned left = (tail0 + nr0 - head0) % nr0;
	struct io_event ev[256];
	long got = io_getevents_(a, left, left, ev);
	if (got != (long)left)
		return snprintf(why, n, "A gave %ld unread events, %u expected", got, left), 0;
	for (long i = 0; i < got; i++)
		if (ev[i].res != 1 || ev[i].data != 0xa000 + ((head0 + i) % 1000))
			return snprintf(why, n, "A event %ld: res %lld data %llx", i, (long long)ev[i].res, (unsigned long long)ev[i].data), 0;
	got = io_getevents_(b, 3, 3, ev);
	if (got != 3)
		return snprintf(why, n, "B gave %ld events, 3 expected", got), 0;
	for (int i = 0; i < 3; i++) {
		int k = (int)(ev[i].data - 0xb000);
		if (k < 0 || k > 2 || ev[i].res != 8 || memcmp(rbuf[k], "block-0", 7) || rbuf[k][7] != '0' + k)
			return snprintf(why, n, "B event %d: data %llx res %lld", i, (unsigned long long)ev[i].data, (long long)ev[i].res), 0;
	}
	int fd = open("/dev/null", O_WRONLY);
	struct iocb cb = { .aio_fildes = (uint32_t)fd, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_buf = (uintptr_t)wbuf, .aio_nbytes = 1 }, *p = &cb;
	unsigned tail = ra->tail;
	if (io_submit_(a, 1, &p) != 1 || ra->tail != (tail + 1) % nr0)
		return snprintf(why, n, "A: one more write did not move the tail from %u", tail), 0;
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || chdir(argv[1])) die("chdir");
	aio_context_t a = 0, b = 0;
	if (io_setup_(64, &a) < 0 || io_setup_(8, &b) < 0) die("io_setup");

	int null = open("/dev/null", O_WRONLY);
	volatile struct ring *ra = (volatile struct ring *)a;
	unsigned nr = ra->nr;
	struct io_event ev;
	for (unsigned i = 0; i < nr + 2; i++) {
		struct iocb cb = { .aio_fildes = (uint32_t)null, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_buf = (uintptr_t)wbuf,
				   .aio_nbytes = 1, .aio_data = 0xa000 + (i % 1000) }, *p = &cb;
		if (io_submit_(a, 1, &p) != 1) die("io_submit A");
		if ((i % 2) && io_getevents_(a, 1, 1, &ev) != 1) die("io_getevents A");
	}
	close(null);

	int d = open("data.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (d < 0 || write(d, "block-00block-01block-02", 24) != 24) die("data.bin");
	struct iocb rc[3], *rp[3];
	for (int i = 0; i < 3; i++) {
		rc[i] = (struct iocb){ .aio_fildes = (uint32_t)d, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_buf = (uintptr_t)rbuf[i],
				       .aio_nbytes = 8, .aio_offset = 8 * i, .aio_data = 0xb000 + i };
		rp[i] = &rc[i];
	}
	if (io_submit_(b, 3, rp) != 3) die("io_submit B");
	struct timespec w = { 0, 50 * 1000 * 1000 };
	nanosleep(&w, NULL);  /* buffered reads complete inside io_submit; give any other path time */
	volatile struct ring *rb = (volatile struct ring *)b;
	if ((rb->tail + rb->nr - rb->head) % rb->nr != 3) die("B: reads not completed");

	unsigned head0 = ra->head, tail0 = ra->tail;
	signal(SIGUSR1, on_usr1);
	printf("READY pid=%d a=%llx b=%llx nr=%u head=%u tail=%u\n", getpid(), (unsigned long long)a, (unsigned long long)b, nr, head0, tail0);
	for (unsigned long n = 1;; n++) {
		if (check) {
			char why[200] = "";
			printf(verify(a, b, head0, tail0, nr, why, sizeof(why)) ? "CHECK ok\n" : "CHECK BAD %s\n", why);
			check = 0;
		}
		printf("tick %lu\n", n);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
