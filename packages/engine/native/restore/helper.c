/* The controller's shared state, its log, and how a task reports failure to it */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

int verbosity = 2;

void info(const char *fmt, ...)
{
	if (verbosity < 3)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ckpt-restore: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct rst_arena *arena;
uint64_t region, region_len, arena_len;
int fd_base;

void task_fail(uint64_t i, const char *fmt, ...)
{
	struct rst_status *st = &arena->task[i];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	st->stage = RST_STAGE_FAILED;
	__atomic_fetch_add(&arena->nr_failed, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &arena->nr_failed, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
	_exit(1);
}

long futex_wait(volatile int32_t *addr, int32_t val, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}
void futex_wake(volatile int32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

/* an fd out of the way of the dumped fd numbers (>= fd_base) */
int move_high(int fd)
{
	if (fd < 0 || fd >= fd_base)
		return fd;
	int n = fcntl(fd, F_DUPFD, fd_base);
	int e = errno;
	close(fd);
	errno = e;
	return n;
}
