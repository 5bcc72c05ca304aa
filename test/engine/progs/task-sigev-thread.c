/* task-sigev-thread: a SIGEV_THREAD POSIX timer (zdtm pthread_timers). glibc runs it with a helper thread that
 * takes the timer's signal (its SIGTIMER, 32, with the default action) with sigwaitinfo and starts a thread
 * for each expiry, which here counts into an eventfd. The timer fires every 2 ms, so a dump nearly always finds
 * its signal pending. Every tick the main thread checks the callbacks go on and the timer's interval: "tick N
 * ok" or "tick N BAD why". */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define INTERVAL_NS 2000000

static int efd;

static void callback(union sigval v)
{
	(void)v;
	uint64_t one = 1;
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		_exit(2);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	efd = eventfd(0, EFD_NONBLOCK);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = callback;
	timer_t id;
	struct itimerspec its = { { 0, INTERVAL_NS }, { 0, INTERVAL_NS } };
	if (efd < 0 || timer_create(CLOCK_MONOTONIC, &ev, &id) || timer_settime(id, 0, &its, NULL)) {
		printf("BAD setup: %m\n");
		return 1;
	}
	printf("READY pid=%d\n", getpid());
	for (int n = 0;; n++) {
		struct pollfd p = { efd, POLLIN, 0 };
		uint64_t count = 0;
		struct itimerspec cur;
		const char *bad = NULL;
		if (poll(&p, 1, 1000) != 1 || read(efd, &count, sizeof(count)) != sizeof(count) || !count)
			bad = "no timer callback for 1 s";
		else if (timer_gettime(id, &cur) || cur.it_interval.tv_sec || cur.it_interval.tv_nsec != INTERVAL_NS)
			bad = "the timer's interval changed";
		printf(bad ? "tick %d BAD %s\n" : "tick %d ok\n", n, bad);
		usleep(100000);
	}
}
