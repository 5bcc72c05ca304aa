/* Paths under /proc/PID (src/kinds/procfs.ts). Of a task of the tree: restored PIDs are the dumped ones, so the
 * path is right once that task exists: a PROC_TASK object is opened by the task that holds it (tasks.c), a cwd
 * or root under it waits for the task too. Of a process dead when dumped: a temporary process has that PID
 * from before the objects are created until every task is prepared, then is killed and reaped, which leaves
 * what the tree holds of its /proc/PID unhashed, as when dumped (CRIU's PROCFS remap helpers). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "procfs.h"

static pid_t *temps;
static uint64_t nr_temps;

int proc_task_obj(const struct obj *o)
{
	return o->kind == OBJ_REG && (o->flags & OBJ_PROC_TASK);
}

/* until task x is forked (a failure elsewhere ends the restore) */
void wait_forked(uint64_t x)
{
	for (int32_t s; (s = arena->task[x].stage) < RST_STAGE_FORKED;) {
		if (arena->go < 0)
			_exit(1);
		futex_wait(&arena->task[x].stage, s, 100);
	}
}

/* the task of the tree whose /proc/PID directory path is under, or nr_tasks */
static uint64_t proc_task_of(const char *path)
{
	unsigned long pid;
	int end = 0;
	if (sscanf(path, "/proc/%lu%n", &pid, &end) != 1 || (path[end] && path[end] != '/'))
		return nr_tasks;
	uint64_t x = 0;
	while (x < nr_tasks && tasks[x].pid != pid)
		x++;
	return x;
}

void wait_proc_task(const char *path)
{
	uint64_t x = proc_task_of(path);
	if (x < nr_tasks)
		wait_forked(x);
}

int open_proc_task_obj(uint64_t ti, const struct obj *o)
{
	wait_proc_task(o->path);
	int fd = open(o->path, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC | OBJ_PROC_TASK)));
	if (fd < 0)
		task_fail(ti, "task %lu: %s: cannot open %s: %s", (unsigned long)tasks[ti].pid, o->label, o->path, strerror(errno));
	if (o->flags & O_ASYNC)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	if (o->pos && lseek(fd, (off_t)o->pos, SEEK_SET) < 0)
		task_fail(ti, "task %lu: %s: cannot seek %s to %lu: %s", (unsigned long)tasks[ti].pid, o->label, o->path, (unsigned long)o->pos,
			  strerror(errno));
	return fd;
}

int start_proc_pids(void)
{
	temps = calloc(nr_proc_pids + 1, sizeof(*temps));
	for (nr_temps = 0; nr_temps < nr_proc_pids; nr_temps++) {
		pid_t pid = (pid_t)proc_pids[nr_temps];
		pid_t p = clone_with_pid(pid, 0);
		if (p < 0) {
			fprintf(stderr, "Error: PID %d (of a process dead when dumped, whose /proc/%d the tree holds): clone3: %s%s\n", pid, pid,
				strerror(errno), errno == EEXIST ? " (PID in use)" : "");
			return -1;
		}
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		temps[nr_temps] = p;
	}
	return 0;
}

void end_proc_pids(void)
{
	for (uint64_t k = 0; k < nr_temps; k++) {
		kill(temps[k], SIGKILL);
		while (waitpid(temps[k], NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	nr_temps = 0;
}
