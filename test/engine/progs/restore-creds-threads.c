/* restore-creds-threads: a process that dropped CAP_NET_RAW before starting two threads (capset is per thread;
 * the threads inherit it). After restore every thread must still be without it, not only the leader. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *worker(void *a)
{
	for (;;)
		sleep(1);
	return a;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return 1;
	d[0].effective &= ~(1u << CAP_NET_RAW);
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	if (syscall(SYS_capset, &h, d))
		return 1;
	pthread_t t;
	pthread_create(&t, 0, worker, 0);
	pthread_create(&t, 0, worker, 0);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		printf("tick %lu\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
