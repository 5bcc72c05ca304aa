/* ckpt-restore-helper: the native half of `ckpt restore`.
 *
 * Reads a plan (plain numbers, strings and byte strings written by packages/engine/src/restore/plan.ts;
 * no image format knowledge here; plan-read.c) and restores the process tree it describes:
 *   controller: checks PIDs and the vDSO layout, maps the blob region + a shared arena in a hole free in
 *               its own and every target layout (region.c), creates every shared object (files, pipes with
 *               their data, unix sockets, ...; one file per kind in kinds/) once at high fds, clone3()s the
 *               root with its PID;
 *   each task:  (tasks.c) sets sid/pgid, clone3()s its children with their PIDs, puts its fds at their
 *               numbers, cwd/root/umask, lays out the blob arguments, waits for "go", jumps into the blob;
 *   blob:       (restore-blob.c) unmaps the helper, maps memory, ..., rt_sigreturn;
 *   controller: as tracer (tracer.c), unmaps the blob region from every task once it runs its own code.
 * On any failure before "go" or inside the blob the controller kills every task it created, reaps them
 * (it is a child subreaper) and exits non-zero with one line naming the task and the resource.
 *
 * Usage: ckpt-restore-helper PLAN_FILE VERBOSITY   (exit 0: restored; 1: failed; with the detached flag
 * clear the controller waits for the root and exits with its status). The pidfile, action scripts and status fd
 * come in the environment (caller.c). */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "procfs.h"

int fault_at(const char *step)
{
	const char *f = getenv("CKPT_FAULT");
	return f && !strcmp(f, step);
}

static void kill_all(void)
{
	for (uint64_t i = 0; i < nr_tasks; i++)
		if (arena->task[i].pid > 0)
			kill(arena->task[i].pid, SIGKILL);
	/* we are a child subreaper: every task ends up ours to reap */
	for (int tries = 0; tries < 2000; tries++) {
		pid_t p = waitpid(-1, NULL, __WALL | WNOHANG);
		if (p < 0 && errno == ECHILD)
			break;
		if (p <= 0)
			usleep(1000);
	}
}

static const char *step_name(int s)
{
	switch (s) {
	case RST_STEP_UNMAP: return "unmap the helper";
	case RST_STEP_SIGNALS: return "queue a pending signal";
	case RST_STEP_SECCOMP: return "install a seccomp filter or strict mode (thread)";
	case RST_STEP_SCHED: return "set the scheduling policy or nice (thread)";
	case RST_STEP_PTIMER: return "create a POSIX timer";
	case RST_STEP_THP: return "set PR_SET_THP_DISABLE";
	case RST_STEP_GUARD: return "install guard pages (MADV_GUARD_INSTALL)";
	case RST_STEP_AIO: return "recreate an AIO ring";
	case RST_STEP_VDSO: return "map the vDSO";
	case RST_STEP_VDSO_PLACE: return "place the vDSO";
	case RST_STEP_MMAP: return "map VMA";
	case RST_STEP_PAGES: return "read pages";
	case RST_STEP_MPROTECT: return "mprotect VMA";
	case RST_STEP_MM_MAP: return "PR_SET_MM_MAP";
	case RST_STEP_SIGACTION: return "rt_sigaction";
	case RST_STEP_THREAD: return "clone3 thread";
	case RST_STEP_CREDS: return "creds";
	case RST_STEP_ITIMER: return "setitimer";
	case RST_STEP_RSEQ: return "rseq";
	case RST_STEP_TLS: return "ARCH_SET_FS";
	}
	return "?";
}

int report_failure(void)
{
	int reported = 0;
	for (uint64_t i = 0; i < nr_tasks; i++) {
		struct rst_status *st = &arena->task[i];
		if (st->stage != RST_STAGE_FAILED)
			continue;
		if (st->msg[0])
			fprintf(stderr, "Error: %s\n", st->msg);
		else
			fprintf(stderr, "Error: task %lu: restorer: %s (0x%llx) failed: %s\n", (unsigned long)tasks[i].pid,
				step_name(st->step), (unsigned long long)st->detail, strerror(-st->err));
		reported = 1;
	}
	return reported;
}

/* PIDs and TIDs must be free */
static int check_pids(void)
{
	for (uint64_t i = 0; i < nr_tasks; i++)
		for (uint64_t k = 0; k < tasks[i].nr_threads; k++) {
			pid_t p = (pid_t)tasks[i].thr[k].tid;
			if (pid_taken_wait(p)) {
				char who[64];
				pid_owner(p, who, sizeof(who));
				fprintf(stderr, "Error: task %lu: %s %d is in use (by '%s'); restore needs it free\n",
					(unsigned long)tasks[i].pid, k ? "TID" : "PID", p, who);
				return -1;
			}
		}
	return 0;
}

/* fds: shared objects live above every fd number the tasks use */
static int set_fd_base(void)
{
	int maxfd = 2;
	for (uint64_t i = 0; i < nr_tasks; i++)
		for (uint64_t k = 0; k < tasks[i].nr_fds; k++)
			if ((int)tasks[i].fds[k].fd > maxfd)
				maxfd = (int)tasks[i].fds[k].fd;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd_base = maxfd + 1 < 64 ? 64 : maxfd + 1;
	if ((uint64_t)fd_base + nr_objs + 2 * nr_pipes + 64 > rl.rlim_cur) {
		fprintf(stderr, "Error: fd %d of the dump is beyond RLIMIT_NOFILE (%lu)\n", maxfd, (unsigned long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

/* wait until *count reaches the number of tasks: 0, or 1 when one failed, died (a task restored as a zombie
 * may) or it took too long; `stage` says where, for the error */
static int wait_all(volatile int32_t *count, const char *stage)
{
	const long limit_ms = 20000;
	for (long waited = 0; *count < (int32_t)nr_tasks; waited += 5) {
		if (arena->nr_failed)
			return 1;
		int status;
		pid_t p = waitpid(-1, &status, __WALL | WNOHANG);
		int zombie = 0;
		for (uint64_t i = 0; p > 0 && i < nr_tasks; i++)
			if ((pid_t)tasks[i].pid == p && tasks[i].state == 2)
				zombie = 1;
		if (p > 0 && !zombie) {
			fprintf(stderr, "Error: task %d died %s (%s %d)\n", p, stage,
				WIFSIGNALED(status) ? "signal" : "exit code", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return 1;
		}
		if (waited > limit_ms) {
			fprintf(stderr, "Error: timed out: the tasks took more than %ld s %s\n", limit_ms / 1000, stage);
			return 1;
		}
		futex_wait(count, *count, 5);
	}
	return 0;
}

/* "go": every task jumps into its restorer */
static int run_restorers(void)
{
	info("%lu task(s) prepared, jumping into the restorer", (unsigned long)nr_tasks);
	arena->go = 1;
	futex_wake(&arena->go);
	return wait_all(&arena->nr_done, "in the restorer");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ckpt-restore-helper PLAN [VERBOSITY]\n");
		return 2;
	}
	if (argc > 2)
		verbosity = atoi(argv[2]);
	read_plan(argv[1]);
	if (!nr_tasks) {
		fprintf(stderr, "Error: nothing to restore\n");
		return 1;
	}
	if (check_pids() < 0 || check_vdso() < 0 || set_fd_base() < 0 || map_region() < 0 || place_vdso_proxy() < 0 ||
	    enter_tree_netns() < 0 || create_objects() < 0)
		return 1;

	/* all signals blocked from here; each task's mask comes from its sigframe. The raw syscall: glibc's
	 * sigfillset and sigprocmask leave out its internal signals 32 and 33, and 32 is also glibc's SIGTIMER: a
	 * SIGEV_THREAD timer's signal (re-queued pending, or the re-armed timer firing) would otherwise reach a
	 * thread in the restorer, where it kills the task or is taken by a handler and lost */
	uint64_t all = ~0ULL;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof(all));
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t root = clone_with_pid((pid_t)tasks[0].pid, (plan_flags & FLAG_SIBLING) ? CLONE_PARENT : 0);
	if (root < 0) {
		fprintf(stderr, "Error: task %lu: clone3 with PID %lu: %s%s\n", (unsigned long)tasks[0].pid, (unsigned long)tasks[0].pid,
			strerror(errno), errno == EEXIST ? " (PID in use)" : "");
		return 1;
	}
	if (root == 0)
		task_main(0);
	arena->task[0].pid = root;

	int failed = wait_all(&arena->nr_prepared, "while being prepared");
	end_proc_pids();  /* every task holds what it needed of their /proc/PID */
	if (!failed)
		remove_ghost_dirs();
	struct timespec tp;
	clock_gettime(CLOCK_MONOTONIC, &tp);
	if (!failed)
		failed = run_restorers();
	if (!failed && finish_tree() < 0)
		failed = 2;  /* reported */
	if (failed) {
		if (failed == 1)
			report_failure();
		arena->go = -1;
		arena->resume = -1;
		futex_wake(&arena->go);
		futex_wake(&arena->resume);
		kill_all();
		if (failed == 2)
			remove_pidfile();
		return 1;
	}
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	info("restored %lu task(s) in %.3f s", (unsigned long)nr_tasks, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].fd >= 0)
			close(objs[i].fd);
	/* the root's PID, then for --display-stats: the tree forked and prepared, and restored, in us */
	printf("%d\nforking_us %ld\nrestore_us %ld\n", root,
	       (long)((tp.tv_sec - t0.tv_sec) * 1000000 + (tp.tv_nsec - t0.tv_nsec) / 1000),
	       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	fflush(stdout);
	/* criu reports a failing post-resume script and goes on: the tree runs */
	run_scripts("post-resume", root);
	write_status_fd();
	if (plan_flags & FLAG_DETACHED) {
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		return 0;
	}
	int status = 0;
	while (waitpid(root, &status, __WALL) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
