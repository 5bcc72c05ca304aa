/* epoll-moved: epoll targets whose registered fd number no longer holds them.
 *  - an eventfd registered as fd A, dup'ed to a high fd, then A closed ("closed after registration");
 *  - a pipe read end registered as fd B, dup'ed, then /dev/null dup2()ed over B ("replaced");
 *  - a second eventfd registered normally (fd still in place).
 * Every 250 ms: write to both eventfds and the pipe through their current fds, epoll_wait must report
 * exactly the three registrations (by their data values); prints "tick N ok" or "BAD ...".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static void die(const char *m) { printf("BAD %s\n", m); fflush(stdout); exit(1); }

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ep = epoll_create1(0);
	int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK), pp[2];
	if (ep < 0 || e1 < 0 || e2 < 0 || pipe2(pp, O_NONBLOCK)) die("setup");
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0xaaaa };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, e1, &ev)) die("ctl1");
	ev.data.u64 = 0xbbbb;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev)) die("ctl2");
	ev.data.u64 = 0xcccc;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, e2, &ev)) die("ctl3");
	int e1moved = fcntl(e1, F_DUPFD, 40);
	close(e1);
	int rmoved = fcntl(pp[0], F_DUPFD, 50);
	int dn = open("/dev/null", O_RDONLY);
	dup2(dn, pp[0]);
	close(dn);
	printf("READY pid=%d e1=%d->%d pipe=%d->%d e2=%d\n", getpid(), e1, e1moved, pp[0], rmoved, e2);
	for (unsigned long n = 1;; n++) {
		uint64_t one = 1, v;
		if (write(e1moved, &one, 8) != 8 || write(e2, &one, 8) != 8 || write(pp[1], "x", 1) != 1) die("write");
		struct epoll_event out[8];
		int k = epoll_wait(ep, out, 8, 1000);
		unsigned seen = 0;
		for (int i = 0; i < k; i++)
			seen |= out[i].data.u64 == 0xaaaa ? 1 : out[i].data.u64 == 0xbbbb ? 2 : out[i].data.u64 == 0xcccc ? 4 : 8;
		char c;
		if (read(e1moved, &v, 8) != 8 || read(e2, &v, 8) != 8 || read(rmoved, &c, 1) != 1) die("read");
		if (k != 3 || seen != 7)
			printf("BAD tick %lu k=%d seen=%u\n", n, k, seen);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
