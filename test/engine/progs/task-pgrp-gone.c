/* task-pgrp-gone: process groups whose leader is gone (zdtm zombie01). The main process (a child subreaper)
 * forks K, which makes its own group, forks L into it and Z (CLONE_PARENT: a child of ours), killed by signal
 * 32 (glibc's internal SIGCANCEL/SIGTIMER), and exits; we reap K. L lives on in group K, reparented to us; Z
 * stays a zombie of group K too. Every tick: Z is still a zombie we have not reaped, killed by signal 32, and
 * both are in group K: "tick N ok" or "tick N BAD why". */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t k = fork();
	if (k == 0) {
		setpgid(0, 0);
		pid_t l = fork();
		if (l == 0) {
			for (;;)
				pause();
		}
		struct clone_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_PARENT;
		pid_t z = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (z == 0) {
			syscall(SYS_kill, getpid(), 32);
			_exit(0);
		}
		pid_t both[2] = { l, z };
		write(fds[1], both, sizeof(both));
		_exit(0);
	}
	pid_t both[2];
	if (read(fds[0], both, sizeof(both)) != sizeof(both) || waitpid(k, NULL, 0) != k)
		return 1;
	pid_t l = both[0], z = both[1];
	siginfo_t si;
	while (memset(&si, 0, sizeof(si)), waitid(P_PID, z, &si, WEXITED | WNOWAIT) || si.si_pid != z)
		usleep(1000);
	printf("READY pid=%d\n", getpid());
	for (int n = 0;; n++) {
		char bad[160] = "";
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, z, &si, WEXITED | WNOWAIT | WNOHANG) || si.si_pid != z)
			snprintf(bad, sizeof(bad), "zombie %d is not ours to reap", z);
		else if (si.si_code != CLD_KILLED || si.si_status != 32)
			snprintf(bad, sizeof(bad), "zombie %d: code %d status %d, want killed by 32", z, si.si_code, si.si_status);
		else if (getpgid(z) != k || getpgid(l) != k)
			snprintf(bad, sizeof(bad), "groups: zombie %d in %d, %d in %d, want %d", z, getpgid(z), l, getpgid(l), k);
		printf(bad[0] ? "tick %d BAD %s\n" : "tick %d ok\n", n, bad);
		usleep(200000);
	}
}
