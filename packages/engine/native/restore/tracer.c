/* Unmapping the restorer. Once a task's threads have rt_sigreturned, the region (blob, args, stacks,
 * frames) is the only trace of the restore left in it. As their tracer we stop every thread, let any thread
 * still inside the region finish its rt_sigreturn (PTRACE_SYSCALL to the syscall exit), then run
 * munmap(region) on the leader at the blob's "syscall; int3", stop at the syscall exit, put its registers
 * back and detach. */
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "helper.h"

static int wait_stop(pid_t tid)
{
	int status;
	for (;;) {
		pid_t p = waitpid(tid, &status, __WALL);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 || !WIFSTOPPED(status))
			return -1;
		return status;
	}
}

/* stop a running tracee: returns 0 once it sits in a ptrace stop, signals it got meanwhile are re-sent */
static int seize_stop(pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)) < 0 || ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -1;
	for (int i = 0; i < 64; i++) {
		int st = wait_stop(tid);
		if (st < 0)
			return -1;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* a signal-delivery stop: let the signal through and wait for the interrupt */
		ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st));
	}
	return -1;
}

static int in_region(uint64_t ip) { return ip >= region && ip < region + region_len; }

/* run the tracee until its ip is outside the region (it finishes rt_sigreturn) */
static int leave_region(pid_t tid)
{
	struct user_regs_struct r;
	for (int i = 0; i < 1000; i++) {
		if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
			return -1;
		if (!in_region(r.rip))
			return 0;
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return -1;
		int st = wait_stop(tid);
		if (st < 0)
			return -1;
		if (WSTOPSIG(st) != (SIGTRAP | 0x80) && (st >> 16) != PTRACE_EVENT_STOP) {
			/* a signal: leave it pending for the task, it is handled once the task runs its own code */
			ptrace(PTRACE_SYSCALL, tid, 0, (void *)(long)WSTOPSIG(st));
			if (wait_stop(tid) < 0)
				return -1;
		}
	}
	return -1;
}

int unmap_region(uint64_t ti)
{
	struct task *t = &tasks[ti];
	uint64_t nthr = t->nr_threads, k;
	int ret = -1;
	for (k = 0; k < nthr; k++)
		if (seize_stop((pid_t)t->thr[k].tid) < 0)
			goto out;
	for (k = 0; k < nthr; k++)
		if (leave_region((pid_t)t->thr[k].tid) < 0)
			goto out;
	pid_t tid = (pid_t)t->thr[0].tid;
	struct user_regs_struct saved, r;
	if (ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0)
		goto out;
	r = saved;
	r.rax = SYS_munmap;
	r.rdi = region;
	r.rsi = region_len;
	r.rip = region + RST_BLOB_SYSCALL;
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		goto out;
	for (int stops = 0; stops < 2; stops++) {  /* syscall entry, then exit */
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0 || wait_stop(tid) < 0)
			goto out;
	}
	ptrace(PTRACE_GETREGS, tid, 0, &r);
	if (ptrace(PTRACE_SETREGS, tid, 0, &saved) < 0)
		goto out;
	ret = r.rax == 0 ? 0 : -1;
	if (ret)
		errno = -(long)r.rax;
out:
	{
		/* a stopped task stops again before it runs a single instruction of its own: SIGSTOP is queued while
		 * it is still held by us, and taken on its way back to user mode */
		if (t->state == 3)
			kill((pid_t)t->pid, SIGSTOP);
		for (k = 0; k < nthr; k++)
			ptrace(PTRACE_DETACH, (pid_t)t->thr[k].tid, 0, 0);
	}
	return ret;
}
