/* What the unix socket test programs share: SIGUSR1 asks for a check, fail() reports one finding. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

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
