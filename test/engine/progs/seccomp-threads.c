/* seccomp-threads: a parent and a child, each with a worker thread, all confined by one seccomp filter
 * (installed with TSYNC after the threads exist) that makes sysinfo(2) fail with errno 77. Each worker
 * spins asking sysinfo: should it ever succeed, the thread ran unconfined (after a restore: before its
 * filter was back) and it says so and exits 3. Every 200 ms each worker appends "tick PID N" to
 * seccomp.log (O_APPEND, shared). Restore tests check the log never grows while a restore is under way. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static int logfd;
static volatile int confined;

static void say(const char *fmt, long a, long b)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), fmt, a, b);
	if (write(logfd, buf, n) != n)
		_exit(4);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	(void)arg;
	struct sysinfo si;
	long n = 0;
	while (!confined)
		sched_yield();
	double next = now() + 0.2;
	for (;;) {
		if (syscall(SYS_sysinfo, &si) == 0) {
			say("UNCONFINED %ld %ld\n", getpid(), syscall(SYS_gettid));
			_exit(3);
		}
		if (now() >= next) {
			say("tick %ld %ld\n", getpid(), ++n);
			next += 0.2;
		}
		sched_yield();
	}
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	logfd = open("seccomp.log", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
	if (logfd < 0)
		return 1;
	pid_t child = fork();
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL))
		return 1;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 77),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog))
		return 2;
	confined = 1;
	if (child > 0)
		printf("READY pid=%d child=%d\n", getpid(), child);
	for (;;)
		pause();
}
