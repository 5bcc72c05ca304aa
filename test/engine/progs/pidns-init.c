/* pidns-init: PID 1 of a fresh PID namespace for the tests (`unshare -p -f --mount-proc pidns-init`).
 * Reaps every process orphaned to it as soon as it dies, so the PIDs of a killed tree are free again at
 * once; prints READY and stays until killed, and the kernel then kills everything in the namespace. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_chld(int sig)
{
	(void)sig;
}

int main(void)
{
	sigset_t chld, none;
	if (getpid() != 1) {
		fprintf(stderr, "pidns-init: not PID 1 of a PID namespace\n");
		return 1;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigemptyset(&none);
	/* PID 1 gets only the signals it handles: SIGCHLD wakes the sigsuspend below */
	struct sigaction sa = { .sa_handler = on_chld };
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sigsuspend(&none);
	}
}
