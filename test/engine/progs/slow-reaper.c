/* slow-reaper: a child subreaper that reaps nothing until it gets SIGUSR1, and under it the tree to dump:
 * a session leader with 2 threads and a child with 2 threads. When the dump kills the tree, both
 * processes end as zombies of the subreaper (the child is orphaned to it), which leaves them there.
 * Prints "REAPER pid=S" and, once the tree runs, "READY pid=ROOT child=CHILD"; on SIGUSR1 the
 * subreaper reaps what is dead and prints "reaped N". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t reap;

static void on_usr1(int sig)
{
	(void)sig;
	reap = 1;
}

static void *spin(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	for (;;)
		nanosleep(&ts, NULL);
	return arg;
}

static void threads(void)
{
	pthread_t t;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t, NULL, spin, NULL))
			_exit(1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		return 1;
	printf("REAPER pid=%d\n", getpid());
	pid_t root = fork();
	if (root == 0) {
		setsid();
		pid_t child = fork();
		if (child == 0) {
			threads();
			for (;;)
				pause();
		}
		threads();
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		printf("READY pid=%d child=%d\n", getpid(), child);
		for (;;)
			pause();
	}
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	for (;;) {
		pause();
		if (!reap)
			continue;
		reap = 0;
		int n = 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			n++;
		printf("reaped %d\n", n);
	}
}
