/* task-sched: scheduling policies, priorities and nice values per thread and per process (zdtm sched_policy00).
 * The main thread runs SCHED_RR priority 3 with SCHED_RESET_ON_FORK (so the threads it makes do not get it);
 * its threads SCHED_FIFO priority 2, SCHED_BATCH with nice 7, SCHED_IDLE; its child SCHED_FIFO priority 4 with
 * SCHED_RESET_ON_FORK and nice -3. Every tick the main thread reads them all back: "tick N ok" or "tick N BAD". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct want { pid_t tid; int policy, prio, nice; };
static struct want w[5];
static volatile int ready;

static int set(struct want *x)
{
	struct sched_param sp = { .sched_priority = x->prio };
	x->tid = (pid_t)syscall(SYS_gettid);
	return setpriority(PRIO_PROCESS, 0, x->nice) || sched_setscheduler(0, x->policy, &sp);
}

static void *thread(void *arg)
{
	if (set(arg))
		printf("BAD setup: thread: %s\n", strerror(errno));
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	w[0] = (struct want){ 0, SCHED_RR | SCHED_RESET_ON_FORK, 3, 0 };
	w[1] = (struct want){ 0, SCHED_FIFO, 2, 0 };
	w[2] = (struct want){ 0, SCHED_BATCH, 0, 7 };
	w[3] = (struct want){ 0, SCHED_IDLE, 0, 0 };
	w[4] = (struct want){ 0, SCHED_FIFO | SCHED_RESET_ON_FORK, 4, -3 };
	for (int k = 1; k <= 3; k++) {
		pthread_t th;
		pthread_create(&th, NULL, thread, &w[k]);
	}
	while (ready < 3)
		usleep(1000);
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		if (set(&w[4]))
			printf("BAD setup: child: %s\n", strerror(errno));
		close(fds[1]);
		char c;
		read(fds[0], &c, 1);  /* until the parent is gone */
		return 0;
	}
	w[4].tid = child;
	if (set(&w[0])) {
		printf("BAD setup: %s\n", strerror(errno));
		return 1;
	}
	usleep(100000);
	printf("READY pid=%d\n", getpid());
	for (int n = 0;; n++) {
		char bad[200] = "";
		for (int k = 0; k < 5 && !bad[0]; k++) {
			struct sched_param sp = { 0 };
			errno = 0;
			int policy = sched_getscheduler(w[k].tid), nice = getpriority(PRIO_PROCESS, w[k].tid);
			if (sched_getparam(w[k].tid, &sp) || policy != w[k].policy || sp.sched_priority != w[k].prio || nice != w[k].nice)
				snprintf(bad, sizeof(bad), "%d: policy 0x%x prio %d nice %d, want 0x%x %d %d", w[k].tid, policy, sp.sched_priority, nice,
					 w[k].policy, w[k].prio, w[k].nice);
		}
		printf(bad[0] ? "tick %d BAD %s\n" : "tick %d ok\n", n, bad);
		usleep(200000);
	}
}
