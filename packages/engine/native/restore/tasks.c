/* Each task, in a child of the controller: its session and group, its children (with their PIDs), its fds,
 * process attributes and the blob's arguments; then it waits for "go" and jumps into the blob */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "helper.h"
#include "procfs.h"

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* children: group and session leaders first, so that later siblings can join their groups */
static void fork_children(uint64_t ti)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t c = ti + 1; c < nr_tasks; c++) {
			struct task *k = &tasks[c];
			if (k->parent != ti)
				continue;
			int leader = k->pgid == k->pid || k->sid == k->pid;
			if ((pass == 0) != leader)
				continue;
			if (pid_taken((pid_t)k->pid)) {
				char who[64];
				pid_owner((pid_t)k->pid, who, sizeof(who));
				task_fail(ti, "task %lu: PID %lu is in use (by '%s'); restore needs it free", (unsigned long)k->pid, (unsigned long)k->pid, who);
			}
			pid_t p = clone_with_pid((pid_t)k->pid, k->files_shared ? CLONE_FILES : 0);
			if (p < 0)
				task_fail(ti, "task %lu: clone3 with PID %lu: %s%s", (unsigned long)k->pid, (unsigned long)k->pid, strerror(errno),
					  errno == EEXIST ? " (PID in use)" : "");
			if (p == 0)
				task_main(c);
			arena->task[c].pid = p;
			while (arena->task[c].stage < RST_STAGE_FORKED)
				futex_wait(&arena->task[c].stage, arena->task[c].stage, 100);
			if (arena->task[c].stage == RST_STAGE_FAILED)
				_exit(1);
		}
}

static int tree_has_pid(uint64_t pid)
{
	for (uint64_t i = 0; i < nr_tasks; i++)
		if (tasks[i].pid == pid)
			return 1;
	return 0;
}

/* A process group whose leader is gone (left with a zombie of it, say): a group is made only by the process
 * whose PID it has. A child with that PID makes it and exits; its zombie keeps the group alive until it is
 * reaped, once this task has joined it (as CRIU's pgid helper task). Returns -1 when another task of the group
 * is making it. */
static int make_group(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid, pgid = t->pgid;
	if (pid_taken_wait((pid_t)pgid)) {
		char who[64];
		pid_owner((pid_t)pgid, who, sizeof(who));
		task_fail(ti, "task %lu: process group %lu: its leader's PID is in use (by '%s'); restore needs it free", pid, pgid, who);
	}
	pid_t h = clone_quiet_with_pid((pid_t)pgid);
	if (h < 0 && errno == EEXIST)
		return -1;  /* another task of the group is making it: join it */
	if (h < 0)
		task_fail(ti, "task %lu: process group %lu: clone3 with PID %lu: %s", pid, pgid, pgid, strerror(errno));
	if (h == 0)
		_exit(setpgid(0, 0) < 0 ? 1 : 0);
	siginfo_t si;
	int r = waitid(P_PID, (id_t)h, &si, WEXITED | WNOWAIT | __WALL);
	if (r == 0 && si.si_code == CLD_EXITED && si.si_status == 0)
		r = setpgid(0, (pid_t)pgid);
	else if (r == 0)
		errno = EPERM;
	int e = errno;
	waitpid(h, NULL, __WALL);
	if (r < 0)
		task_fail(ti, "task %lu: process group %lu: %s", pid, pgid, strerror(e));
	return 0;
}

/* the session and process group of the dump; a session leader takes its pty as controlling terminal */
static void join_session(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	if (t->sid == t->pid) {
		if (getsid(0) != (pid_t)t->pid && setsid() < 0)
			task_fail(ti, "task %lu: setsid: %s", pid, strerror(errno));
	} else if (ti == 0) {
		if (!(plan_flags & FLAG_SHELL_JOB))
			task_fail(ti, "task %lu: not a session leader (sid %lu); restore it with --shell-job", pid, (unsigned long)t->sid);
	} else if ((uint64_t)getsid(0) != t->sid) {
		task_fail(ti, "task %lu: session %lu cannot be recreated (parent is in session %d)", pid, (unsigned long)t->sid, getsid(0));
	}
	if ((uint64_t)getpgid(0) != t->pgid && !(ti == 0 && t->sid != t->pid)) {
		int ok = -1;
		if (t->pgid != t->pid && !tree_has_pid(t->pgid) && (ok = setpgid(0, (pid_t)t->pgid)) < 0)
			ok = make_group(ti);  /* else another task of the group made it */
		for (int tries = 0; tries < 200 && ok < 0; tries++) {
			ok = setpgid(0, t->pgid == t->pid ? 0 : (pid_t)t->pgid);
			if (ok < 0)
				usleep(5000);
		}
		if (ok < 0)
			task_fail(ti, "task %lu: process group %lu: %s", pid, (unsigned long)t->pgid, strerror(errno));
	}
	/* a session leader takes its pty as controlling terminal before its children are forked (they share it) */
	if (t->ctty != ~0ULL) {
		int cfd = objs[t->ctty].fd;
		if (ioctl(cfd, TIOCSCTTY, 0) < 0)
			task_fail(ti, "task %lu: controlling terminal (%s): %s", pid, objs[t->ctty].label, strerror(errno));
		if (t->ctty_pgrp == t->pid && tcsetpgrp(cfd, (pid_t)t->ctty_pgrp) < 0)
			task_fail(ti, "task %lu: foreground group %lu of %s: %s", pid, (unsigned long)t->ctty_pgrp, objs[t->ctty].label, strerror(errno));
	}
}

/* a zombie: waits for go, then dies the way it died */
static void end_as_zombie(uint64_t ti) __attribute__((noreturn));
static void end_as_zombie(uint64_t ti)
{
	struct task *t = &tasks[ti];
	struct rst_status *st = &arena->task[ti];
	__atomic_fetch_add(&arena->nr_prepared, 1, __ATOMIC_SEQ_CST);
	st->stage = RST_STAGE_PREPARED;
	futex_wake(&arena->nr_prepared);
	while (arena->go == 0)
		futex_wait(&arena->go, 0, 1000);
	__atomic_fetch_add(&arena->nr_done, 1, __ATOMIC_SEQ_CST);
	st->stage = RST_STAGE_DONE;
	futex_wake(&arena->nr_done);
	if (t->exit_code & 0x7f) {
		int sig = (int)(t->exit_code & 0x7f);
		signal(sig, SIG_DFL);  /* glibc's 32 and 33 are never set here: default already */
		uint64_t m = 1ULL << (sig - 1);  /* the raw syscall: glibc leaves its 32 and 33 blocked */
		syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, NULL, sizeof(m));
		kill(getpid(), sig);
	}
	_exit((int)((t->exit_code >> 8) & 0xff));
}

/* what the blob is handed open (high fds, closed by the blob): mapped files, the executable, the pages image */
struct blob_fds {
	int exe, pages, nclose;
	int close[RST_MAX_FDS_CLOSE];
};

/* a file task ti maps */
int open_mfile(uint64_t ti, const struct mfile *m)
{
	int fd;
	struct stat st;
	if (m->obj != ~0ULL && fstat(objs[m->obj].fd, &st) == 0 && S_ISSOCK(st.st_mode))
		/* a packet socket's ring: mapped from the socket itself (it cannot be reopened) */
		fd = fcntl(objs[m->obj].fd, F_DUPFD_CLOEXEC, 0);
	else if (m->obj != ~0ULL || (m->memfd != ~0ULL && (m->oflags & O_ACCMODE) != O_RDWR)) {
		/* a ghost file (already unlinked) or a memfd mapped through a read-only fd: reopened through our
		 * own fd with the dumped mode */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", m->obj != ~0ULL ? objs[m->obj].fd : memfds[m->memfd].fd);
		fd = open(p, (int)m->oflags | O_CLOEXEC);
	} else
		fd = m->memfd != ~0ULL ? fcntl(memfds[m->memfd].fd, F_DUPFD_CLOEXEC, 0) : open(m->path, (int)m->oflags);
	if (fd < 0)
		task_fail(ti, "task %lu: mapped file %s: %s", (unsigned long)tasks[ti].pid,
			  m->obj != ~0ULL ? objs[m->obj].label : m->memfd != ~0ULL ? memfds[m->memfd].label : m->path, strerror(errno));
	return fd;
}

static void open_blob_files(uint64_t ti, struct blob_fds *bf)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	bf->exe = bf->pages = -1;
	bf->nclose = 0;
	for (uint64_t k = 0; k < t->nr_files; k++) {
		struct mfile *m = &t->files[k];
		m->fd = move_high(open_mfile(ti, m));
		if (bf->nclose < RST_MAX_FDS_CLOSE - 2)
			bf->close[bf->nclose++] = m->fd;
	}
	if (t->exe[0]) {
		bf->exe = move_high(open(t->exe, O_RDONLY));
		if (bf->exe < 0)
			task_fail(ti, "task %lu: executable %s: %s", pid, t->exe, strerror(errno));
	}
	bf->pages = move_high(open(t->pages, O_RDONLY));
	if (bf->pages < 0)
		task_fail(ti, "task %lu: pages image %s: %s", pid, t->pages, strerror(errno));
	bf->close[bf->nclose++] = bf->pages;
}

/* fds at their numbers, everything else but `also` (n_also fds) closed */
static void place_fds(uint64_t ti, const struct blob_fds *bf, const int *also, int n_also)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	for (uint64_t k = 0; k < t->nr_fds; k++) {
		struct fdent *f = &t->fds[k];
		struct obj *o = &objs[f->obj];
		if ((o->kind == OBJ_PIDFD && o->pidfd.pid) || proc_task_obj(o))
			continue;  /* place_late_fds */
		if (o->fd < 0)
			task_fail(ti, "task %lu: fd %lu: %s was not created", pid, (unsigned long)f->fd, o->label);
		if (dup2(o->fd, (int)f->fd) < 0)
			task_fail(ti, "task %lu: fd %lu (%s): dup2: %s", pid, (unsigned long)f->fd, o->label, strerror(errno));
		if (f->cloexec)
			fcntl((int)f->fd, F_SETFD, FD_CLOEXEC);
	}
	/* close everything else */
	{
		int n = 0;
		int *keep = malloc((t->nr_fds + bf->nclose + n_also + 2) * sizeof(int));
		for (uint64_t k = 0; k < t->nr_fds; k++)
			keep[n++] = (int)t->fds[k].fd;
		for (int k = 0; k < n_also; k++)
			keep[n++] = also[k];
		for (int k = 0; k < bf->nclose; k++)
			keep[n++] = bf->close[k];
		if (bf->exe >= 0)
			keep[n++] = bf->exe;
		qsort(keep, n, sizeof(int), cmp_int);
		unsigned int from = 0;
		for (int k = 0; k < n; k++) {
			if ((unsigned)keep[k] > from)
				syscall(SYS_close_range, from, keep[k] - 1, 0);
			from = keep[k] + 1;
		}
		syscall(SYS_close_range, from, ~0U, 0);
		free(keep);
	}
}

/* signal owners (they name restored PIDs, so only now), epoll registrations, and file locks and leases (POSIX ones
 * belong to this process; every other fd of the file is closed by now, which would drop them) */
static void fd_owners_epoll_locks(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	for (uint64_t k = 0; k < t->nr_fds; k++) {
		struct obj *o = &objs[t->fds[k].obj];
		int fd = (int)t->fds[k].fd;
		if (o->fown_sig && fcntl(fd, F_SETSIG, (int)o->fown_sig) < 0)
			task_fail(ti, "task %lu: fd %d (%s): F_SETSIG %lu: %s", pid, fd, o->label, (unsigned long)o->fown_sig, strerror(errno));
		if (o->fown_pid) {
			struct f_owner_ex ow = { .type = (int)o->fown_type, .pid = (pid_t)o->fown_pid };
			if (fcntl(fd, F_SETOWN_EX, &ow) < 0)
				task_fail(ti, "task %lu: fd %d (%s): F_SETOWN_EX %lu: %s", pid, fd, o->label, (unsigned long)o->fown_pid, strerror(errno));
		}
	}
	for (uint64_t k = 0; k < t->nr_epoll; k++) {
		struct epoll_event ev = { .events = (uint32_t)t->epoll[k][2], .data.u64 = t->epoll[k][3] };
		if (epoll_ctl((int)t->epoll[k][0], EPOLL_CTL_ADD, (int)t->epoll[k][1], &ev) < 0 && errno != EEXIST)
			task_fail(ti, "task %lu: epoll fd %lu: adding fd %lu: %s", pid, (unsigned long)t->epoll[k][0], (unsigned long)t->epoll[k][1], strerror(errno));
	}
	for (uint64_t k = 0; k < t->nr_locks; k++) {
		uint64_t *l = t->locks[k];
		int fd = (int)l[4], r;
		const char *what = l[0] == 2 ? "flock" : l[0] == 4 ? "OFD lock" : l[0] == 8 ? "lease" : "POSIX lock";
		if (l[0] == 8) {  /* every other fd of the file is closed by now: a write lease needs that */
			r = fcntl(fd, F_SETLEASE, (int)l[1]);
		} else if (l[0] == 2) {
			r = flock(fd, (l[1] == F_WRLCK ? LOCK_EX : l[1] == F_RDLCK ? LOCK_SH : LOCK_UN) | LOCK_NB);
		} else {
			struct flock fl = { .l_type = (short)l[1], .l_whence = SEEK_SET, .l_start = (off_t)l[2], .l_len = (off_t)l[3] };
			r = fcntl(fd, l[0] == 4 ? F_OFD_SETLK : F_SETLK, &fl);
		}
		if (r < 0)
			task_fail(ti, "task %lu: fd %d: %s [%lu, +%lu): %s%s", pid, fd, what, (unsigned long)l[2], (unsigned long)l[3], strerror(errno),
				  errno == EAGAIN || errno == EACCES ? " (held by another process)" : "");
	}
}

/* A shared fd table (CLONE_FILES): the task whose parent does not share it places the fds, once every task
 * sharing it has cloned its children (which copy the table as it is then); each sharer then opens its own
 * files (mapped ones, exe, pages) at free high fds of the table. The objects and memfds the sharers map
 * files from stay open until they all have, and are closed then. */
static uint64_t fdt_owner(uint64_t ti)
{
	while (tasks[ti].files_shared)
		ti = tasks[ti].parent;
	return ti;
}

static void fdt_set(uint64_t ti, int32_t level)
{
	arena->task[ti].fdt = level;
	futex_wake(&arena->task[ti].fdt);
}

/* until task ti reached level (a failure elsewhere ends the restore: the controller kills us) */
static void fdt_wait(uint64_t ti, int32_t level)
{
	volatile int32_t *f = &arena->task[ti].fdt;
	for (int32_t v; (v = *f) < level;) {
		if (arena->go < 0)
			_exit(1);
		futex_wait(f, v, 100);
	}
}

/* until every other task sharing owner's table reached level */
static void fdt_wait_sharers(uint64_t owner, int32_t level)
{
	for (uint64_t s = owner + 1; s < nr_tasks; s++)
		if (tasks[s].files_shared && fdt_owner(s) == owner)
			fdt_wait(s, level);
}

/* the fds (objects, memfds) the tasks sharing owner's table map files from, sorted, each once; returns how many */
static int fdt_sources(uint64_t owner, int **out)
{
	int n = 0, cap = 0, *v = NULL;
	for (uint64_t s = owner + 1; s < nr_tasks; s++) {
		if (!tasks[s].files_shared || fdt_owner(s) != owner)
			continue;
		for (uint64_t k = 0; k < tasks[s].nr_files; k++) {
			struct mfile *m = &tasks[s].files[k];
			int fd = m->obj != ~0ULL ? objs[m->obj].fd : m->memfd != ~0ULL ? memfds[m->memfd].fd : -1;
			if (fd < 0)
				continue;
			if (n == cap)
				v = realloc(v, (cap = cap * 2 + 16) * sizeof(int));
			v[n++] = fd;
		}
	}
	if (n)
		qsort(v, n, sizeof(int), cmp_int);
	int u = 0;
	for (int k = 0; k < n; k++)
		if (!u || v[u - 1] != v[k])
			v[u++] = v[k];
	*out = v;
	return u;
}

/* The first task (in the plan's order) placing fds that holds object obj (opened late), and at which fd: it opens
 * the object, the others take that open file from it once its fds are in place (only towards earlier tasks) */
static uint64_t late_opener(uint64_t obj, int *fd)
{
	for (uint64_t x = 0; x < nr_tasks; x++)
		for (uint64_t k = 0; !tasks[x].files_shared && k < tasks[x].nr_fds; k++)
			if (tasks[x].fds[k].obj == obj) {
				*fd = (int)tasks[x].fds[k].fd;
				return x;
			}
	return nr_tasks;
}

/* pidfds of tasks of the tree and their /proc/PID files (procfs.c): opened once the task exists (its parent
 * cloned it, which waits for nothing of ours), or taken from the task that opened it */
static void place_late_fds(uint64_t ti)
{
	struct task *t = &tasks[ti];
	for (uint64_t k = 0; k < t->nr_fds; k++) {
		struct obj *o = &objs[t->fds[k].obj];
		int fd = (int)t->fds[k].fd, from_fd = -1, p;
		if ((o->kind != OBJ_PIDFD || !o->pidfd.pid) && !proc_task_obj(o))
			continue;
		uint64_t from = late_opener(t->fds[k].obj, &from_fd);
		if (from != ti) {
			fdt_wait(from, RST_FDT_READY);
			int h = (int)syscall(SYS_pidfd_open, (pid_t)tasks[from].pid, 0);
			p = h < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, h, from_fd, 0);
			if (h >= 0)
				close(h);
		} else if (proc_task_obj(o)) {
			p = open_proc_task_obj(ti, o);
		} else {
			uint64_t x = 0;
			while (x < nr_tasks && tasks[x].pid != o->pidfd.pid)
				x++;
			if (x == nr_tasks)
				task_fail(ti, "task %lu: fd %d: %s: no such task", (unsigned long)t->pid, fd, o->label);
			wait_forked(x);
			p = (int)syscall(SYS_pidfd_open, (pid_t)o->pidfd.pid, o->flags & O_NONBLOCK);
		}
		if (p < 0 || (p != fd && (dup2(p, fd) < 0 || close(p) < 0)))
			task_fail(ti, "task %lu: fd %d: %s: %s", (unsigned long)t->pid, fd, o->label, strerror(errno));
		fcntl(fd, F_SETFD, t->fds[k].cloexec ? FD_CLOEXEC : 0);
	}
}

/* this task's fds in place (or, sharing its parent's table, its own files opened in it) */
static void fds_in_place(uint64_t ti, struct blob_fds *bf)
{
	if (tasks[ti].files_shared) {
		fdt_wait(fdt_owner(ti), RST_FDT_READY);
		open_blob_files(ti, bf);
		fdt_set(ti, RST_FDT_READY);
		return;
	}
	int *sources, n = fdt_sources(ti, &sources);
	fdt_wait_sharers(ti, RST_FDT_CHILDREN);
	open_blob_files(ti, bf);
	place_fds(ti, bf, sources, n);
	place_late_fds(ti);
	fd_owners_epoll_locks(ti);
	fdt_set(ti, RST_FDT_READY);
	fdt_wait_sharers(ti, RST_FDT_READY);
	for (int k = 0; k < n; k++)
		close(sources[k]);
	free(sources);
}

/* Both opened before the chroot (as CRIU's restore_fs): both paths are the dump's, seen from the global root, and
 * the cwd may lie outside the new root */
static void root_and_cwd(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	int root = -1, cwd = -1;
	wait_proc_task(t->root);
	wait_proc_task(t->cwd);
	if (t->root[0] && strcmp(t->root, "/") && (root = open(t->root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		task_fail(ti, "task %lu: root %s: %s", pid, t->root, strerror(errno));
	if (t->cwd[0] && (cwd = open(t->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		task_fail(ti, "task %lu: cwd %s: %s", pid, t->cwd, strerror(errno));
	if (root >= 0 && (fchdir(root) < 0 || chroot(".") < 0))
		task_fail(ti, "task %lu: root %s: %s", pid, t->root, strerror(errno));
	if (cwd >= 0 && fchdir(cwd) < 0)
		task_fail(ti, "task %lu: cwd %s: %s", pid, t->cwd, strerror(errno));
	if (root >= 0)
		close(root);
	if (cwd >= 0)
		close(cwd);
}

/* The audit login uid (CRIU's prepare_loginuid): only a task can write its own, and changing a set one takes
 * CAP_AUDIT_CONTROL, which the restore still has here; written only when it differs from the one inherited */
static void set_loginuid(uint64_t ti)
{
	unsigned long pid = tasks[ti].pid;
	unsigned int want = (unsigned int)tasks[ti].loginuid[0];
	char buf[16] = "";
	int fd = open("/proc/self/loginuid", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && want == 4294967295U)
		return;  /* a kernel without audit: unset is all there is */
	if (fd < 0)
		task_fail(ti, "task %lu: audit login uid %u: /proc/self/loginuid: %s", pid, want, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (n <= 0 || strtoul(buf, NULL, 10) != want) {
		int len = snprintf(buf, sizeof(buf), "%u", want);
		if (pwrite(fd, buf, len, 0) != len)
			task_fail(ti, "task %lu: audit login uid %u: %s", pid, want, strerror(errno));
	}
	close(fd);
}

/* per process, before the blob (threads it clones inherit them): umask, audit login uid, subreaper, OOM score, membarrier
 * registrations (the mm's: this one, which the blob keeps), root, cwd */
static void process_attrs(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	umask((mode_t)t->umask);
	if (t->nr_loginuid)
		set_loginuid(ti);
	if (t->subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (t->oom_set) {
		int ofd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		char ob[32];
		int ol = snprintf(ob, sizeof(ob), "%ld", (long)(int64_t)t->oom_adj);
		if (ofd < 0 || write(ofd, ob, ol) != ol)
			task_fail(ti, "task %lu: oom_score_adj %s: %s", pid, ob, strerror(errno));
		close(ofd);
	}
	for (int bit = 0; bit < 32; bit++)
		if (t->membarrier & (1ULL << bit) && syscall(SYS_membarrier, 1 << bit, 0, 0) < 0)
			task_fail(ti, "task %lu: membarrier registration 0x%x: %s", pid, 1 << bit, strerror(errno));
	if (t->membarrier >> 32)
		task_fail(ti, "task %lu: membarrier registrations 0x%llx: unknown", pid, (unsigned long long)t->membarrier);
	root_and_cwd(ti);
}

/* the blob's arguments, after the blob in the region; returns the top of the blob's stack */
static uint64_t fill_blob_args(uint64_t ti, struct rst_args *a, const struct blob_fds *bf)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	struct rst_status *st = &arena->task[ti];
	uint8_t *cur = (uint8_t *)a + PALIGN(sizeof(*a));
	memset(a, 0, sizeof(*a));
	a->keep_start = region;
	a->keep_end = region + region_len + arena_len + premap_len;
	a->premap_start = premap_start;
	a->premap_len = premap_len;
	a->status = st;
	a->arena = arena;
	a->task_size = TASK_SIZE;
	a->nr_vmas = t->nr_vmas;
	a->vmas = (struct rst_vma *)cur;
	for (uint64_t k = 0; k < t->nr_vmas; k++) {
		struct vma *v = &t->vmas[k];
		struct rst_vma *r = &a->vmas[k];
		r->start = v->start; r->end = v->end; r->pgoff = v->pgoff; r->prot = v->prot; r->flags = v->flags;
		r->fd = v->file == ~0ULL ? -1 : t->files[v->file].fd;
		r->madv_lo = (uint32_t)v->madv; r->madv_hi = (uint32_t)(v->madv >> 32);
		r->add_write = v->add_write;
		r->premap = v->premap;
	}
	cur += PALIGN(t->nr_vmas * sizeof(struct rst_vma));
	a->nr_iovs = t->nr_iovs;
	a->iovs = (struct rst_iov *)cur;
	for (uint64_t k = 0; k < t->nr_iovs; k++) {
		a->iovs[k].base = t->iov[3 * k];
		a->iovs[k].len = t->iov[3 * k + 1];
	}
	cur += PALIGN(t->nr_iovs * sizeof(struct rst_iov));
	a->iov_off = (uint64_t *)cur;
	for (uint64_t k = 0; k < t->nr_iovs; k++)  /* runs premap_task filled: done (top bit) */
		a->iov_off[k] = t->iov[3 * k + 2] | (premap_covers(t, t->iov[3 * k], t->iov[3 * k + 1]) ? 1ULL << 63 : 0);
	cur += PALIGN(t->nr_iovs * 8);
	a->nr_guards = (uint32_t)t->nr_guards;
	a->guards = (uint64_t (*)[2])cur;
	memcpy(cur, t->guards, t->nr_guards * 16);
	cur += PALIGN(t->nr_guards * 16);
	a->pages_fd = bf->pages;
	{
		struct stat pst;
		a->pages_size = fstat(bf->pages, &pst) == 0 && getenv("CKPT_NO_UFFD") == NULL ? (uint64_t)pst.st_size : 0;
	}
	cur = vdso_blob_args(t, a, cur);
	uint64_t *mmf = &a->mm.start_code;
	for (int k = 0; k < 11; k++)
		mmf[k] = t->mm[k];
	for (uint64_t k = 0; k < t->nr_auxv; k++)
		a->auxv[k] = t->auxv[k];
	a->mm.auxv_size = (uint32_t)(((t->nr_auxv + 2) & ~1ULL) * 8); /* with its AT_NULL pair */
	a->mm.exe_fd = (uint32_t)bf->exe;
	snprintf(a->comm, sizeof(a->comm), "%s", t->comm);
	for (int k = 0; k < 64; k++) {
		a->sigact[k].handler = t->sigact[k][0];
		a->sigact[k].flags = t->sigact[k][1];
		a->sigact[k].restorer = t->sigact[k][2];
		a->sigact[k].mask = t->sigact[k][3];
	}
	memcpy(a->rlim, t->rlim, sizeof(a->rlim));
	memcpy(a->itimer, t->itimer, sizeof(a->itimer));
	a->creds_set = (uint32_t)t->creds_set;
	a->uid = t->cred[0]; a->gid = t->cred[1]; a->euid = t->cred[2]; a->egid = t->cred[3];
	a->suid = t->cred[4]; a->sgid = t->cred[5]; a->fsuid = t->cred[6]; a->fsgid = t->cred[7];
	a->secbits = t->secbits;
	a->nr_groups = t->nr_groups;
	for (uint64_t k = 0; k < t->nr_groups; k++)
		a->groups[k] = t->groups[k];
	for (int j = 0; j < 2; j++) {
		a->cap_inh[j] = t->caps[0][j]; a->cap_prm[j] = t->caps[1][j];
		a->cap_eff[j] = t->caps[2][j]; a->cap_bnd[j] = t->caps[3][j]; a->cap_amb[j] = t->caps[4][j];
	}
	a->no_new_privs = t->no_new_privs;
	a->dumpable = (int32_t)t->dumpable;
	a->thp_disabled = (uint32_t)t->thp_disabled;
	a->pdeath_sig = (int32_t)t->pdeath_sig;
	a->personality_set = t->personality_set;
	a->personality = t->personality;
	a->nr_close = bf->nclose;
	memcpy(a->close_fds, bf->close, bf->nclose * sizeof(int));
	a->nr_sigs = (uint32_t)t->nr_sigs;
	a->sigs = (struct rst_siginfo *)cur;
	for (uint64_t k = 0; k < t->nr_sigs; k++) {
		a->sigs[k].tid = (int32_t)t->sig_tid[k];
		memcpy(a->sigs[k].info, t->sig_info[k].p, 128);
		memcpy(&a->sigs[k].signo, t->sig_info[k].p, 4);  /* si_signo comes first */
	}
	cur += PALIGN(t->nr_sigs * sizeof(struct rst_siginfo));
	const char *fault = getenv("CKPT_FAULT");  /* test hook: the last task fails at its very last step */
	a->fault_seccomp = fault && !strcmp(fault, "restore-last-task-late") && ti == nr_tasks - 1;
	a->nr_ptimers = (uint32_t)t->nr_ptimers;
	a->ptimers = (struct rst_ptimer *)cur;
	for (uint64_t k = 0; k < t->nr_ptimers; k++) {
		struct rst_ptimer *q = &a->ptimers[k];
		uint64_t *v = t->ptimers[k];
		q->id = (int32_t)v[0]; q->clock = (int32_t)v[1]; q->notify = (int32_t)v[2]; q->signo = (int32_t)v[3]; q->tid = (int32_t)v[4];
		q->sival = v[5]; q->isec = v[6]; q->insec = v[7]; q->vsec = v[8]; q->vnsec = v[9];
	}
	cur += PALIGN(t->nr_ptimers * sizeof(struct rst_ptimer));
	a->nr_aios = (uint32_t)t->nr_aios;  /* the plan holds at most RST_MAX_AIOS */
	for (uint64_t k = 0; k < t->nr_aios; k++)
		a->aios[k] = (struct rst_aio){ t->aios[k][0], t->aios[k][1], t->aios[k][2] };
	a->nr_threads = t->nr_threads;
	a->threads = (struct rst_thread *)cur;
	cur += PALIGN(t->nr_threads * sizeof(struct rst_thread));
	for (uint64_t k = 0; k < t->nr_threads; k++) {
		struct thr *h = &t->thr[k];
		struct rst_thread *r = &a->threads[k];
		r->tid = h->tid; r->clear_tid = h->clear_tid; r->robust = h->robust; r->robust_len = h->robust_len;
		r->fs_base = h->fs_base; r->gs_base = h->gs_base; r->rseq_ptr = h->rseq_ptr;
		r->rseq_size = (uint32_t)h->rseq_size; r->rseq_sig = (uint32_t)h->rseq_sig;
		snprintf(r->comm, sizeof(r->comm), "%s", h->comm);
		r->policy = (int32_t)h->policy; r->prio = (int32_t)h->prio; r->nice = (int32_t)(int64_t)h->nice;
		r->seccomp_strict = (uint32_t)h->seccomp_strict;
		r->nr_seccomp = (uint32_t)h->nr_seccomp;
		r->seccomp = (struct rst_seccomp *)cur;
		cur += PALIGN(h->nr_seccomp * sizeof(struct rst_seccomp));
		for (uint64_t f = 0; f < h->nr_seccomp; f++) {
			r->seccomp[f].len = (uint16_t)(h->sc_insns[f].len / 8);
			r->seccomp[f].flags = (uint32_t)h->sc_flags[f];
			r->seccomp[f].filter = (uint64_t)cur;
			memcpy(cur, h->sc_insns[f].p, h->sc_insns[f].len);
			cur += PALIGN(h->sc_insns[f].len);
		}
		cur += THREAD_STACK;
		r->stack_top = (uint64_t)cur;
		r->frame = (uint64_t)cur;
		memcpy(cur, h->frame.p, h->frame.len);
		/* uc_mcontext.fpstate (frame offset 232) holds the fpstate's offset in the frame (frame.ts), or 0 */
		uint64_t *fpstate = (uint64_t *)(cur + 232);
		if (*fpstate)
			*fpstate += (uint64_t)cur;
		cur += FRAME_AREA;
	}
	uint64_t stack_top = (uint64_t)cur + THREAD_STACK - 64;
	if (stack_top > region + region_len)
		task_fail(ti, "task %lu: blob region too small", pid);
	return stack_top;
}

void task_main(uint64_t ti)
{
	struct task *t = &tasks[ti];
	struct rst_status *st = &arena->task[ti];
	unsigned long pid = t->pid;
	st->pid = getpid();
	if ((uint64_t)getpid() != t->pid)
		task_fail(ti, "task %lu: got PID %d", pid, getpid());
	prctl(PR_SET_PDEATHSIG, 0);

	join_cgroups(ti);
	join_session(ti);
	st->stage = RST_STAGE_FORKED;
	futex_wake(&st->stage);

	premap_task(ti);  /* its private memory its children share, before they are forked */
	fork_children(ti);
	fdt_set(ti, RST_FDT_CHILDREN);

	if (t->state == 2)
		end_as_zombie(ti);

	struct blob_fds bf;
	fds_in_place(ti, &bf);
	process_attrs(ti);
	struct rst_args *a = (struct rst_args *)(region + blob_size());
	uint64_t stack_top = fill_blob_args(ti, a, &bf);

	const char *fault = getenv("CKPT_FAULT");  /* test hook: the last task fails after the tree is forked */
	if (fault && !strcmp(fault, "restore-last-task") && ti == nr_tasks - 1)
		task_fail(ti, "task %lu: injected fault (CKPT_FAULT=restore-last-task)", pid);

	st->stage = RST_STAGE_PREPARED;
	__atomic_fetch_add(&arena->nr_prepared, 1, __ATOMIC_SEQ_CST);
	futex_wake(&arena->nr_prepared);
	while (arena->go == 0)
		futex_wait(&arena->go, 0, 1000);
	if (arena->go < 0)
		_exit(1);

	/* the helper's glibc may have registered rseq for this thread: drop it before its memory goes */
	syscall(SYS_rseq, NULL, 0, 1, 0);
	asm volatile("mov %0, %%rsp\n\t"
		     "mov %1, %%rdi\n\t"
		     "push $0\n\t"
		     "jmp *%2\n\t"
		     : : "r"(stack_top), "r"(a), "r"(region) : "memory");
	__builtin_unreachable();
}
