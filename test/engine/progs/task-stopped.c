/* task-stopped: two children stopped by different signals, each leading its own process group under us (a
 * group with a parent in another group of the session is not orphaned, so SIGTSTP stops it). Every tick the
 * parent asks, without reaping, how each child stopped: "tick N ok" when A stopped by SIGTSTP and B by SIGSTOP,
 * "tick N BAD ..." when one stopped by another signal or runs; "tick N waiting" until both are stopped. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child(void)
{
	pid_t p = fork();
	if (p == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(p, p);
	return p;
}

/* the child's stop signal, 0 while it is not stopped */
static int stopped_by(pid_t p)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, p, &si, WSTOPPED | WNOWAIT | WNOHANG) < 0 || si.si_pid != p)
		return 0;
	return si.si_code == CLD_STOPPED ? si.si_status : -si.si_code;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t a = child(), b = child();
	kill(a, SIGTSTP);
	kill(b, SIGSTOP);
	while (!stopped_by(a) || !stopped_by(b))
		usleep(10000);
	printf("READY pid=%d a=%d b=%d\n", getpid(), a, b);
	for (unsigned long n = 1;; n++) {
		int sa = stopped_by(a), sb = stopped_by(b);
		if (!sa || !sb)
			printf("tick %lu waiting a=%d b=%d\n", n, sa, sb);
		else if (sa != SIGTSTP || sb != SIGSTOP)
			printf("tick %lu BAD a stopped by %d (want %d), b by %d (want %d)\n", n, sa, SIGTSTP, sb, SIGSTOP);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
