/* Tasks get their dumped PIDs (clone3 set_tid); who holds a PID, for the error message */
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

static pid_t clone3_pid(pid_t pid, uint64_t flags, int exit_signal)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = flags;
	ca.exit_signal = (uint64_t)exit_signal;
	ca.set_tid = (uint64_t)(uintptr_t)&pid;
	ca.set_tid_size = 1;
	return syscall(SYS_clone3, &ca, sizeof(ca));
}

/* a sibling's exit signal is its parent's choice (ours: SIGCHLD), as for any CLONE_PARENT child */
pid_t clone_with_pid(pid_t pid, uint64_t flags) { return clone3_pid(pid, flags, (flags & CLONE_PARENT) ? 0 : SIGCHLD); }

/* a child whose end signals nothing (waited for with __WALL): no SIGCHLD left pending in the restored task */
pid_t clone_quiet_with_pid(pid_t pid) { return clone3_pid(pid, 0, 0); }

/* who holds a pid, for the error message */
void pid_owner(pid_t pid, char *out, size_t n)
{
	char p[64], comm[64] = "?";
	snprintf(p, sizeof(p), "/proc/%d/comm", pid);
	FILE *f = fopen(p, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(out, n, "%s", comm);
}

int pid_taken(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d", pid);
	return access(p, F_OK) == 0;
}

/* a dumped-and-killed task may still be a zombie for a moment: give its reaper up to 2 s */
int pid_taken_wait(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char p[64], buf[512];
		snprintf(p, sizeof(p), "/proc/%d/stat", pid);
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return 0;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *r = strrchr(buf, ')');
		if (!r || r[2] != 'Z')
			return 1;
		usleep(10000);
	}
	return pid_taken(pid);
}
