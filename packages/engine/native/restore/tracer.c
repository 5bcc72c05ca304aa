/* The end of a restore, all or nothing. The region (blob, args, stacks, frames) and the arena are the only
 * traces of the restore left in a task once its threads have rt_sigreturned. As their tracer we stop every
 * thread, run it until it has left the region (PTRACE_SYSCALL to the exit of its rt_sigreturn), then run
 * munmap on the leader at the blob's "syscall; int3", stop at the syscall exit, put its registers back and
 * detach. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "helper.h"

/* the next stop of tid; -1 when it or any other tracee exits instead (a thread group whose leader exits is
 * reported only once its other threads, zombies held for us as their tracer, are reaped: hence any pid) */
static int wait_stop(pid_t tid)
{
	int status;
	for (;;) {
		pid_t p = waitpid(-1, &status, __WALL);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 || !WIFSTOPPED(status))
			return -1;
		if (p == tid)
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
	for (int i = 0; i < 10000; i++) {  /* its leader's seccomp chain is installed on the way */
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

/* munmap(region + arena) run by the leader at the blob's "syscall; int3"; its registers are put back */
static int inject_munmap(pid_t tid)
{
	struct user_regs_struct saved, r;
	if (ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0)
		return -1;
	r = saved;
	r.rax = SYS_munmap;
	r.rdi = region;
	r.rsi = region_len + arena_len;
	r.rip = region + RST_BLOB_SYSCALL;
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -1;
	for (int stops = 0; stops < 2; stops++) {  /* syscall entry, then exit */
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0 || wait_stop(tid) < 0)
			return -1;
	}
	ptrace(PTRACE_GETREGS, tid, 0, &r);
	if (ptrace(PTRACE_SETREGS, tid, 0, &saved) < 0)
		return -1;
	if (r.rax != 0) {
		errno = -(long)r.rax;
		return -1;
	}
	return 0;
}

/* The leader has its own signal mask again: a signal pending for it (a zombie child's SIGCHLD) would stop it
 * before the injected syscall, so every signal is blocked around it, as compel does. */
static int unmap_region(uint64_t ti)
{
	pid_t tid = (pid_t)tasks[ti].thr[0].tid;
	uint64_t mask, all = ~0ULL;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask) < 0 || ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all) < 0)
		return -1;
	int ret = inject_munmap(tid);
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0)
		return -1;
	return ret;
}

/* stat fields of a process: parent, process group, session; -1 when it is gone or a zombie */
static int proc_stat(pid_t pid, pid_t *ppid, pid_t *pgrp, pid_t *sid)
{
	char path[64], buf[512], state;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	char *p = strrchr(buf, ')');  /* after the comm, which may hold anything */
	if (!p || sscanf(p + 1, " %c %d %d %d", &state, ppid, pgrp, sid) != 4 || state == 'Z')
		return -1;
	return 0;
}

/* The kernel's test (will_become_orphaned_pgrp): a group none of whose members has a parent, other than
 * init, in another group of the same session. Such a group ignores SIGTSTP, SIGTTIN and SIGTTOU. */
static int pgrp_orphaned(pid_t pgrp)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int orphaned = 1;
	while (d && orphaned && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid, pg, sid, pppid, ppg, psid;
		if (pid <= 0 || proc_stat(pid, &ppid, &pg, &sid) < 0 || pg != pgrp || ppid <= 1)
			continue;
		if (proc_stat(ppid, &pppid, &ppg, &psid) == 0 && ppg != pgrp && psid == sid)
			orphaned = 0;
	}
	if (d)
		closedir(d);
	return orphaned;
}

/* The signal a stopped task stopped with: a terminal stop signal would be ignored in an orphaned group (as
 * the group the restore leaves it in may be, its parents gone), and the task would run: SIGSTOP then. */
static int stop_signal(uint64_t ti)
{
	int sig = (int)tasks[ti].stop_signo;
	if (sig != SIGSTOP && pgrp_orphaned((pid_t)tasks[ti].pgid)) {
		fprintf(stderr, "Warn: task %lu: its process group %lu is orphaned, which ignores signal %d: stopped with SIGSTOP\n",
			(unsigned long)tasks[ti].pid, (unsigned long)tasks[ti].pgid, sig);
		sig = SIGSTOP;
	}
	return sig;
}

/* All or nothing: every task waits in its blob, done but for its seccomp filters. Every thread of the tree
 * is stopped under ptrace (seccomp suspended), let go, run out of the region (each leader installs its
 * seccomp chain on the way) and the region unmapped; only when every task got through is any detached,
 * so no task runs a single instruction of its own unless the whole tree is restored. */
int finish_tree(void)
{
	uint64_t i, k;
	for (i = 0; i < nr_tasks; i++)
		for (k = 0; tasks[i].state != 2 && k < tasks[i].nr_threads; k++)
			if (seize_stop((pid_t)tasks[i].thr[k].tid) < 0) {
				fprintf(stderr, "Error: task %lu: cannot stop thread %lu after the restorer: %s\n", (unsigned long)tasks[i].pid,
					(unsigned long)tasks[i].thr[k].tid, strerror(errno));
				return -1;
			}
	arena->resume = 1;
	futex_wake(&arena->resume);
	for (i = 0; i < nr_tasks; i++)
		for (k = 0; tasks[i].state != 2 && k < tasks[i].nr_threads; k++)
			if (leave_region((pid_t)tasks[i].thr[k].tid) < 0) {
				if (!report_failure())
					fprintf(stderr, "Error: task %lu: thread %lu did not leave the restorer\n", (unsigned long)tasks[i].pid,
						(unsigned long)tasks[i].thr[k].tid);
				return -1;
			}
	for (i = 0; i < nr_tasks; i++)
		if (tasks[i].state != 2 && unmap_region(i) < 0) {
			fprintf(stderr, "Error: task %lu: cannot unmap the restorer at 0x%lx: %s\n", (unsigned long)tasks[i].pid,
				(unsigned long)region, strerror(errno));
			return -1;
		}
	/* criu's order: the pidfile, post-restore (its failure undoes the restore), pre-resume (reported only) */
	if (write_pidfile((pid_t)tasks[0].pid) < 0 || run_scripts("post-restore", (pid_t)tasks[0].pid) < 0)
		return -1;
	/* a failure up to here leaves the dump's network lock for the next restore (criu's out_kill): the repaired
	 * sockets close in repair mode, without a packet, and the peers wait */
	if (fault_at("restore-sockets")) {
		fprintf(stderr, "Error: fault injected at step restore-sockets (CKPT_FAULT): every task restored, the network still locked\n");
		return -1;
	}
	/* as criu: the tree is restored, the names given to deleted files at dump go before any task runs */
	remove_link_remaps();
	/* criu's order: the network unlocked, then TCP repair off, then pre-resume; a failure from here on kills a tree
	 * whose connections may have sent or received (criu's out_kill_network_unlocked) */
	/* the tree had its own network namespace: criu's network-unlock scripts come first */
	const char *hook = getenv("CKPT_NETNS_UNLOCK_HOOK");
	if (hook && *hook == '1')
		run_scripts("network-unlock", (pid_t)tasks[0].pid);
	int unlocked = net_unlock_and_resume();
	if (unlocked == 0 && fault_at("restore-unlocked"))
		unlocked = -1, fprintf(stderr, "Error: fault injected at step restore-unlocked (CKPT_FAULT)\n");
	if (unlocked < 0) {
		fprintf(stderr, "Warn: the restore failed after the network was unlocked: a connection of the tree may have lost data\n");
		return -1;
	}
	run_scripts("pre-resume", (pid_t)tasks[0].pid);
	for (i = 0; i < nr_tasks; i++) {
		if (tasks[i].state == 2)
			continue;
		/* a stopped task (every task with -s) stops again before it runs a single instruction of its own: its stop
		 * signal is queued while it is still held by us, and taken on its way back to user mode */
		if (tasks[i].state == 3 || (plan_flags & FLAG_LEAVE_STOPPED))
			kill((pid_t)tasks[i].pid, tasks[i].state == 3 ? stop_signal(i) : SIGSTOP);
		for (k = 0; k < tasks[i].nr_threads; k++)
			ptrace(PTRACE_DETACH, (pid_t)tasks[i].thr[k].tid, 0, 0);
	}
	return 0;
}
