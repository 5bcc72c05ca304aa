/* What the socket test programs share: SIGUSR1 asks for a check, fail() reports one finding, check_forever()
 * runs the checks until the program is killed. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static volatile sig_atomic_t check;
static void on_usr1(int s) { (void)s; check = 1; }

static int failed;
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("RESULT FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failed = 1;
}

/* after READY: verify() each time SIGUSR1 asks (looked at every 100 ms), until killed */
static void check_forever(void (*verify)(void))
{
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (check) {
			check = 0;
			verify();
		}
	}
}
