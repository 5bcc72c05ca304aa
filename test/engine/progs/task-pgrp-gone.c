/* task-pgrp-gone: process groups whose leader is gone (zdtm zombie01). The main process (a child subreaper)
 * forks K, which makes its own group, forks L into it and Z (CLONE_PARENT: a child of ours), killed by signal
 * 32 (glibc's internal SIGCANCEL/SIGTIMER), and exits; and J, which makes its own group, forks M into it and
 * exits. We reap K and J. L and M live on in groups K and J, reparented to us; Z stays a zombie of group K.
 * L and M, which have no children, report any SIGCHLD they get. Every tick: Z is still a zombie we have not
 * reaped, killed by signal 32, each is in its group, no SIGCHLD came: "tick N ok" or "tick N BAD why". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <string.h>
#include <unistd.h>

static int spur[2];
static void on_chld(int sig) { (void)sig; write(spur[1], "c", 1); }

static pid_t live_member(void)
{
	pid_t p = fork();
	if (p == 0) {
		signal(SIGCHLD, on_chld);
		for (;;)
			pause();
	}
	return p;
}

/* a group of its own, left behind: returns its id; its members' pids into out (a live one, then a zombie of ours or 0) */
static pid_t abandoned_group(int with_zombie, pid_t out[2])
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t k = fork();
	if (k == 0) {
		setpgid(0, 0);
		pid_t both[2] = { live_member(), 0 };
		if (with_zombie) {
			struct clone_args ca;
			memset(&ca, 0, sizeof(ca));
			ca.flags = CLONE_PARENT;
			both[1] = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
			if (both[1] == 0) {
				syscall(SYS_kill, getpid(), 32);
				_exit(0);
			}
		}
		write(fds[1], both, sizeof(both));
		_exit(0);
	}
	if (read(fds[0], out, 2 * sizeof(pid_t)) != 2 * sizeof(pid_t) || waitpid(k, NULL, 0) != k)
		return -1;
	close(fds[0]);
	close(fds[1]);
	return k;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t lz[2], m[2];
	pid_t k, j;
	if (pipe2(spur, O_NONBLOCK) || (k = abandoned_group(1, lz)) < 0 || (j = abandoned_group(0, m)) < 0)
		return 1;
	pid_t l = lz[0], z = lz[1];
	siginfo_t si;
	while (memset(&si, 0, sizeof(si)), waitid(P_PID, z, &si, WEXITED | WNOWAIT) || si.si_pid != z)
		usleep(1000);
	printf("READY pid=%d\n", getpid());
	for (int n = 0;; n++) {
		char bad[160] = "", c;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, z, &si, WEXITED | WNOWAIT | WNOHANG) || si.si_pid != z)
			snprintf(bad, sizeof(bad), "zombie %d is not ours to reap", z);
		else if (si.si_code != CLD_KILLED || si.si_status != 32)
			snprintf(bad, sizeof(bad), "zombie %d: code %d status %d, want killed by 32", z, si.si_code, si.si_status);
		else if (getpgid(z) != k || getpgid(l) != k || getpgid(m[0]) != j)
			snprintf(bad, sizeof(bad), "groups: %d in %d, %d in %d (want %d); %d in %d (want %d)", z, getpgid(z), l, getpgid(l), k,
				 m[0], getpgid(m[0]), j);
		else if (read(spur[0], &c, 1) == 1)
			snprintf(bad, sizeof(bad), "a process without children got a SIGCHLD");
		printf(bad[0] ? "tick %d BAD %s\n" : "tick %d ok\n", n, bad);
		usleep(200000);
	}
}
