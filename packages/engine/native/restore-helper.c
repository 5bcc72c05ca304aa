/* ckpt-restore-helper: the native half of `ckpt restore`.
 *
 * Reads a plan (plain numbers, strings and byte strings written by packages/engine/src/restore/plan.ts;
 * no image format knowledge here) and restores the process tree it describes:
 *   controller: checks PIDs and the vDSO layout, maps the blob region + a shared arena in a hole free in
 *               its own and every target layout, creates every shared object (files, pipes with their data,
 *               unix sockets) once at high fds, clone3()s the root with its PID;
 *   each task:  sets sid/pgid, clone3()s its children with their PIDs, puts its fds at their numbers,
 *               cwd/root/umask, lays out the blob arguments, waits for "go", jumps into the restorer blob;
 *   blob:       (restore-blob.c) unmaps the helper, maps memory, ..., rt_sigreturn.
 * On any failure before "go" or inside the blob the controller kills every task it created, reaps them
 * (it is a child subreaper) and exits non-zero with one line naming the task and the resource.
 *
 * Usage: ckpt-restore-helper PLAN_FILE VERBOSITY   (exit 0: restored; 1: failed; with the detached flag
 * clear the controller waits for the root and exits with its status). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#include "restore-args.h"
#include <linux/userfaultfd.h>
_Static_assert(RST_UFFDIO_API == UFFDIO_API && RST_UFFDIO_REGISTER == UFFDIO_REGISTER && RST_UFFDIO_UNREGISTER == UFFDIO_UNREGISTER &&
	       RST_UFFDIO_COPY == UFFDIO_COPY && RST_UFFD_API == UFFD_API, "userfaultfd constants");
#include "restore-blob.h" /* generated: restore_blob[], restore_blob_len */

#define TASK_SIZE 0x7ffffffff000ULL
#define PAGE 4096ULL
#define PALIGN(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define THREAD_STACK 0x10000ULL
#define FRAME_AREA 0x2000ULL

static int verbosity = 2;

static void info(const char *fmt, ...)
{
	if (verbosity < 3)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ckpt-restore: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---------------------------------------------------------------- plan */

struct buf { const uint8_t *p; size_t len; };

struct rd { const uint8_t *p, *end; };
static struct rd R;

static void bad_plan(void)
{
	fprintf(stderr, "Error: restore plan is truncated or corrupt\n");
	exit(1);
}
static uint64_t u64(void)
{
	if (R.end - R.p < 8)
		bad_plan();
	uint64_t v;
	memcpy(&v, R.p, 8);
	R.p += 8;
	return v;
}
static struct buf bytes(void)
{
	uint64_t n = u64();
	if ((uint64_t)(R.end - R.p) < n)
		bad_plan();
	struct buf b = { R.p, n };
	R.p += (n + 7) & ~7ULL;
	if (R.p > R.end)
		R.p = R.end;
	return b;
}
static char *str(void)
{
	struct buf b = bytes();
	char *s = malloc(b.len + 1);
	memcpy(s, b.p, b.len);
	s[b.len] = 0;
	return s;
}

enum { OBJ_REG = 1, OBJ_PIPE = 2, OBJ_UNIX = 3, OBJ_FIFO = 4, OBJ_INHERIT = 5, OBJ_EVENTFD = 6, OBJ_TIMERFD = 7, OBJ_SIGNALFD = 8,
       OBJ_EPOLL = 9, OBJ_INOTIFY = 10, OBJ_MEMFD = 11, OBJ_CALLER_TTY = 12, OBJ_PTY_MASTER = 13, OBJ_PTY_SLAVE = 14 };
#define OBJ_GHOST (1ULL << 31)  /* REG: a ghost file, unlinked once every object is open */
#define OBJ_EXTERNAL (1ULL << 30) /* a peer outside the tree (--ext-unix-sk): never created */

struct obj {
	int kind;
	char *path;        /* REG/FIFO */
	uint64_t flags, pos;
	uint64_t pipe_no, end;  /* PIPE */
	uint64_t inherit_fd;    /* INHERIT: the caller's fd (--inherit-fd) */
	uint64_t fifo_size; struct buf fifo_data; /* FIFO: unread data (on the first object of a FIFO) */
	uint64_t fown_sig, fown_type, fown_pid;   /* F_SETSIG / F_SETOWN_EX, set by the task that has it */
	uint64_t nr_nums, *nums;                  /* EVENTFD/TIMERFD/SIGNALFD/MEMFD/PTY parameters (see plan.ts) */
	struct buf data;                          /* PTY_MASTER: input queued for the slave */
	int pty_index;                            /* PTY_MASTER: the index it got */
	uint64_t nr_watches; struct watch { uint64_t wd, mask; char *path; } *watches;  /* INOTIFY */
	/* UNIX */
	uint64_t sk_type, sk_state, sk_backlog, sk_peer_obj, sk_listener, sk_sndbuf, sk_rcvbuf, sk_shutdown, sk_passcred, sk_nonblock;
	struct buf sk_name;
	uint64_t nr_queue; struct buf *queue;   /* packets to deliver to this socket (sent from its peer) */
	char *label;       /* for errors: "file /x", "pipe:[123]" */
	int fd;            /* in the controller */
};

struct pipe_ { uint64_t size; struct buf data; int fds[2]; };

struct fdent { uint64_t fd, obj, cloexec; };
struct mfile { char *path; uint64_t oflags, memfd, obj; int fd; };
struct memfd_ {
	char *label, *name; uint64_t anon, size, seals, mode, uid, gid; char *pages;
	uint64_t nr_runs, *runs;  /* offset in the file, length, offset in the pages image */
	int fd;
};
struct vma { uint64_t start, end, pgoff, prot, flags, file, madv, add_write; };
struct thr {
	uint64_t tid, clear_tid, robust, robust_len, fs_base, gs_base, rseq_ptr, rseq_size, rseq_sig;
	char *comm;
	struct buf frame;
};

struct vdso_patch { uint64_t at, rel; struct buf code; };  /* see plan.ts: PlanTask.vdso */

struct task {
	uint64_t pid, parent, pgid, sid, state, exit_code;
	uint64_t umask; char *cwd, *root, *exe, *pages;
	uint64_t nr_fds; struct fdent *fds;
	uint64_t nr_files; struct mfile *files;
	uint64_t nr_vmas; struct vma *vmas;
	uint64_t nr_iovs; uint64_t *iov; /* base, len, off triples */
	uint64_t vdso_hint, vdso_expect, vvar_len, vdso_len;
	uint64_t vdso_proxy; char *vdso_why; uint64_t nr_vdso_patches; struct vdso_patch *vdso_patches;
	uint64_t mm[11]; uint64_t nr_auxv; uint64_t auxv[64];
	char *comm;
	uint64_t sigact[64][4], rlim[16][2], itimer[3][4];
	uint64_t creds_set, cred[8], secbits, nr_groups, groups[64], caps[4][2], no_new_privs;
	uint64_t dumpable, pdeath_sig, personality_set, personality;
	uint64_t nr_threads; struct thr *thr;
	uint64_t nr_locks; uint64_t (*locks)[5];  /* kind (1 POSIX, 2 FLOCK, 4 OFD), type, start, len, fd */
	uint64_t nice, policy, prio, subreaper, oom_set, oom_adj;
	uint64_t nr_sigs; uint64_t *sig_tid; struct buf *sig_info;    /* pending signals (tid 0: shared) */
	uint64_t nr_seccomp; uint64_t *sc_flags; struct buf *sc_insns; /* filter chain, oldest first */
	uint64_t nr_epoll, (*epoll)[4];   /* epoll fd, target fd, events, data */
	uint64_t nr_ptimers, (*ptimers)[10];
	uint64_t ctty, ctty_pgrp;
	uint64_t region_need;
};

static uint64_t plan_flags, nr_tasks, nr_objs, nr_pipes, nr_memfds;
static struct memfd_ *memfds;
static struct obj *objs;
static struct pipe_ *pipes;
static struct task *tasks;

#define PLAN_MAGIC 0x31545352544b5043ULL /* "CPKTRST1" */
#define FLAG_DETACHED 1
#define FLAG_SHELL_JOB 2

/* the vDSO proxy part of a task: flag, why, patches (each at most 16 bytes, its u64 to relocate inside) */
static void read_vdso_proxy(struct task *t)
{
	t->vdso_proxy = u64();
	t->vdso_why = str();
	t->nr_vdso_patches = u64();
	if (t->nr_vdso_patches > 256 || (t->nr_vdso_patches && (!t->vdso_proxy || !t->vdso_hint)))
		bad_plan();
	t->vdso_patches = calloc(t->nr_vdso_patches + 1, sizeof(*t->vdso_patches));
	if (!t->vdso_patches)
		bad_plan();
	for (uint64_t k = 0; k < t->nr_vdso_patches; k++) {
		struct vdso_patch *p = &t->vdso_patches[k];
		p->at = u64(); p->rel = u64(); p->code = bytes();
		if (p->code.len > sizeof(((struct rst_vdso_patch *)0)->code) || (p->rel != ~0ULL && (p->code.len < 8 || p->rel > p->code.len - 8)))
			bad_plan();
	}
}

static void read_plan(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "Error: cannot open restore plan %s: %s\n", path, strerror(errno));
		exit(1);
	}
	struct stat st;
	fstat(fd, &st);
	uint8_t *p = malloc(st.st_size + 8);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, st.st_size - got);
		if (n <= 0)
			bad_plan();
		got += n;
	}
	close(fd);
	R.p = p;
	R.end = p + got;

	if (u64() != PLAN_MAGIC)
		bad_plan();
	plan_flags = u64();
	nr_tasks = u64();
	nr_objs = u64();
	nr_pipes = u64();
	nr_memfds = u64();
	pipes = calloc(nr_pipes + 1, sizeof(*pipes));
	for (uint64_t i = 0; i < nr_pipes; i++) {
		pipes[i].size = u64();
		pipes[i].data = bytes();
	}
	memfds = calloc(nr_memfds + 1, sizeof(*memfds));
	for (uint64_t i = 0; i < nr_memfds; i++) {
		struct memfd_ *m = &memfds[i];
		m->label = str(); m->name = str(); m->anon = u64(); m->size = u64(); m->seals = u64(); m->mode = u64(); m->uid = u64(); m->gid = u64();
		m->pages = str();
		m->nr_runs = u64();
		m->runs = calloc(3 * m->nr_runs + 1, 8);
		for (uint64_t k = 0; k < 3 * m->nr_runs; k++)
			m->runs[k] = u64();
		m->fd = -1;
	}
	objs = calloc(nr_objs + 1, sizeof(*objs));
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		o->kind = u64();
		o->label = str();
		o->fd = -1;
		switch (o->kind) {
		case OBJ_REG:
		case OBJ_FIFO:
			o->path = str();
			o->flags = u64();
			o->pos = u64();
			if (o->kind == OBJ_FIFO) {
				o->fifo_size = u64();
				o->fifo_data = bytes();
			}
			break;
		case OBJ_PIPE:
			o->pipe_no = u64();
			o->end = u64();
			o->flags = u64();
			break;
		case OBJ_INHERIT:
			o->inherit_fd = u64();
			break;
		case OBJ_CALLER_TTY:
			o->flags = u64();
			break;
		case OBJ_PTY_MASTER:
		case OBJ_PTY_SLAVE:
			o->flags = u64();
			o->nr_nums = u64();
			o->nums = calloc(o->nr_nums + 40, 8);
			for (uint64_t k = 0; k < o->nr_nums; k++)
				o->nums[k] = u64();
			o->data = bytes();
			if (o->kind == OBJ_PTY_SLAVE && (o->nr_nums < 1 || o->nums[0] >= i || objs[o->nums[0]].kind != OBJ_PTY_MASTER))
				bad_plan();
			break;
		case OBJ_EVENTFD: case OBJ_TIMERFD: case OBJ_SIGNALFD: case OBJ_EPOLL: case OBJ_INOTIFY: case OBJ_MEMFD:
			o->flags = u64();
			o->pos = u64();
			o->nr_nums = u64();
			o->nums = calloc(o->nr_nums + 8, 8);
			for (uint64_t k = 0; k < o->nr_nums; k++)
				o->nums[k] = u64();
			o->nr_watches = u64();
			o->watches = calloc(o->nr_watches + 1, sizeof(*o->watches));
			for (uint64_t k = 0; k < o->nr_watches; k++) {
				o->watches[k].wd = u64(); o->watches[k].mask = u64(); o->watches[k].path = str();
			}
			if (o->kind == OBJ_MEMFD && o->nums[0] >= nr_memfds)
				bad_plan();
			break;
		case OBJ_UNIX:
			o->sk_type = u64(); o->sk_state = u64(); o->sk_backlog = u64(); o->sk_peer_obj = u64(); o->sk_listener = u64();
			o->sk_sndbuf = u64(); o->sk_rcvbuf = u64(); o->sk_shutdown = u64(); o->sk_passcred = u64();
			o->flags = u64();
			o->sk_name = bytes();
			o->nr_queue = u64();
			o->queue = calloc(o->nr_queue + 1, sizeof(struct buf));
			for (uint64_t k = 0; k < o->nr_queue; k++)
				o->queue[k] = bytes();
			break;
		default:
			bad_plan();
		}
		o->fown_sig = u64(); o->fown_type = u64(); o->fown_pid = u64();
	}
	tasks = calloc(nr_tasks + 1, sizeof(*tasks));
	for (uint64_t i = 0; i < nr_tasks; i++) {
		struct task *t = &tasks[i];
		t->pid = u64(); t->parent = u64(); t->pgid = u64(); t->sid = u64(); t->state = u64(); t->exit_code = u64();
		t->umask = u64(); t->cwd = str(); t->root = str(); t->exe = str(); t->pages = str();
		t->nr_fds = u64();
		t->fds = calloc(t->nr_fds + 1, sizeof(*t->fds));
		for (uint64_t k = 0; k < t->nr_fds; k++) {
			t->fds[k].fd = u64(); t->fds[k].obj = u64(); t->fds[k].cloexec = u64();
			if (t->fds[k].obj >= nr_objs)
				bad_plan();
		}
		t->nr_files = u64();
		t->files = calloc(t->nr_files + 1, sizeof(*t->files));
		for (uint64_t k = 0; k < t->nr_files; k++) {
			t->files[k].path = str(); t->files[k].oflags = u64(); t->files[k].memfd = u64(); t->files[k].obj = u64(); t->files[k].fd = -1;
			if ((t->files[k].memfd != ~0ULL && t->files[k].memfd >= nr_memfds) || (t->files[k].obj != ~0ULL && t->files[k].obj >= nr_objs))
				bad_plan();
		}
		t->nr_vmas = u64();
		t->vmas = calloc(t->nr_vmas + 1, sizeof(*t->vmas));
		for (uint64_t k = 0; k < t->nr_vmas; k++) {
			struct vma *v = &t->vmas[k];
			v->start = u64(); v->end = u64(); v->pgoff = u64(); v->prot = u64(); v->flags = u64();
			v->file = u64(); v->madv = u64(); v->add_write = u64();
			if (v->file != ~0ULL && v->file >= t->nr_files)
				bad_plan();
		}
		t->nr_iovs = u64();
		t->iov = calloc(t->nr_iovs * 3 + 1, 8);
		for (uint64_t k = 0; k < t->nr_iovs * 3; k++)
			t->iov[k] = u64();
		t->vdso_hint = u64(); t->vdso_expect = u64(); t->vvar_len = u64(); t->vdso_len = u64();
		read_vdso_proxy(t);
		for (int k = 0; k < 11; k++)
			t->mm[k] = u64();
		t->nr_auxv = u64();
		if (t->nr_auxv > 62)
			bad_plan();
		for (uint64_t k = 0; k < t->nr_auxv; k++)
			t->auxv[k] = u64();
		t->comm = str();
		for (int k = 0; k < 64; k++)
			for (int j = 0; j < 4; j++)
				t->sigact[k][j] = u64();
		for (int k = 0; k < 16; k++)
			for (int j = 0; j < 2; j++)
				t->rlim[k][j] = u64();
		for (int k = 0; k < 3; k++)
			for (int j = 0; j < 4; j++)
				t->itimer[k][j] = u64();
		t->creds_set = u64();
		for (int k = 0; k < 8; k++)
			t->cred[k] = u64();
		t->secbits = u64();
		t->nr_groups = u64();
		if (t->nr_groups > 64)
			bad_plan();
		for (uint64_t k = 0; k < t->nr_groups; k++)
			t->groups[k] = u64();
		for (int k = 0; k < 4; k++)
			for (int j = 0; j < 2; j++)
				t->caps[k][j] = u64();
		t->no_new_privs = u64();
		t->dumpable = u64(); t->pdeath_sig = u64(); t->personality_set = u64(); t->personality = u64();
		t->nr_threads = u64();
		if (!t->nr_threads)
			bad_plan();
		t->thr = calloc(t->nr_threads, sizeof(*t->thr));
		for (uint64_t k = 0; k < t->nr_threads; k++) {
			struct thr *h = &t->thr[k];
			h->tid = u64(); h->clear_tid = u64(); h->robust = u64(); h->robust_len = u64();
			h->fs_base = u64(); h->gs_base = u64(); h->rseq_ptr = u64(); h->rseq_size = u64(); h->rseq_sig = u64();
			h->comm = str();
			h->frame = bytes();
			if (h->frame.len > FRAME_AREA)
				bad_plan();
		}
		t->nr_locks = u64();
		t->locks = calloc(t->nr_locks + 1, sizeof(*t->locks));
		for (uint64_t k = 0; k < t->nr_locks; k++)
			for (int j = 0; j < 5; j++)
				t->locks[k][j] = u64();
		t->nice = u64(); t->policy = u64(); t->prio = u64(); t->subreaper = u64(); t->oom_set = u64(); t->oom_adj = u64();
		t->nr_sigs = u64();
		t->sig_tid = calloc(t->nr_sigs + 1, 8);
		t->sig_info = calloc(t->nr_sigs + 1, sizeof(struct buf));
		for (uint64_t k = 0; k < t->nr_sigs; k++) {
			t->sig_tid[k] = u64();
			t->sig_info[k] = bytes();
			if (t->sig_info[k].len != 128)
				bad_plan();
		}
		t->nr_seccomp = u64();
		t->sc_flags = calloc(t->nr_seccomp + 1, 8);
		t->sc_insns = calloc(t->nr_seccomp + 1, sizeof(struct buf));
		for (uint64_t k = 0; k < t->nr_seccomp; k++) {
			t->sc_flags[k] = u64();
			t->sc_insns[k] = bytes();
			if (t->sc_insns[k].len % 8 || t->sc_insns[k].len / 8 > 4096)
				bad_plan();
		}
		t->nr_epoll = u64();
		t->epoll = calloc(t->nr_epoll + 1, sizeof(*t->epoll));
		for (uint64_t k = 0; k < t->nr_epoll; k++)
			for (int j = 0; j < 4; j++)
				t->epoll[k][j] = u64();
		t->nr_ptimers = u64();
		t->ptimers = calloc(t->nr_ptimers + 1, sizeof(*t->ptimers));
		for (uint64_t k = 0; k < t->nr_ptimers; k++)
			for (int j = 0; j < 10; j++)
				t->ptimers[k][j] = u64();
		t->ctty = u64(); t->ctty_pgrp = u64();
		if (t->ctty != ~0ULL && t->ctty >= nr_objs)
			bad_plan();
		if (t->parent != ~0ULL && t->parent >= i)
			bad_plan();
	}
}

/* ---------------------------------------------------------------- controller state */

static struct rst_arena *arena;
static uint64_t region, region_len, arena_len;
static int fd_base;

static void task_fail(uint64_t i, const char *fmt, ...) __attribute__((noreturn));
static void task_fail(uint64_t i, const char *fmt, ...)
{
	struct rst_status *st = &arena->task[i];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	st->stage = RST_STAGE_FAILED;
	__atomic_fetch_add(&arena->nr_failed, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &arena->nr_failed, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
	_exit(1);
}

static long futex_wait(volatile int32_t *addr, int32_t val, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}
static void futex_wake(volatile int32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
}

static pid_t clone_with_pid(pid_t pid)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&pid;
	ca.set_tid_size = 1;
	return syscall(SYS_clone3, &ca, sizeof(ca));
}

/* who holds a pid, for the error message */
static void pid_owner(pid_t pid, char *out, size_t n)
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

static int pid_taken(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d", pid);
	return access(p, F_OK) == 0;
}

/* a dumped-and-killed task may still be a zombie for a moment: give its reaper up to 2 s */
static int pid_taken_wait(pid_t pid)
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

/* ---------------------------------------------------------------- shared objects */

static int move_high(int fd)
{
	if (fd < 0 || fd >= fd_base)
		return fd;
	int n = fcntl(fd, F_DUPFD, fd_base);
	int e = errno;
	close(fd);
	errno = e;
	return n;
}

static int open_unix(struct obj *o, char *err, size_t errn);

/* memfds and shared anonymous memory, filled from their pages images; seals last */
static int create_memfds(void)
{
	static char buf[1 << 20];
	for (uint64_t i = 0; i < nr_memfds; i++) {
		struct memfd_ *m = &memfds[i];
		int fd;
		if (m->anon) {
			/* MAP_SHARED|MAP_ANONYMOUS memory is a "/dev/zero" shmem file: get it from a mapping of our own */
			size_t len = (m->size + 4095) & ~4095ULL;
			if (!len)
				len = 4096;
			void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				fprintf(stderr, "Error: %s: mmap %lu bytes: %s\n", m->label, (unsigned long)len, strerror(errno));
				return -1;
			}
			char path[96];
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + len);
			fd = open(path, O_RDWR | O_CLOEXEC);
			int e = errno;
			munmap(p, len);
			if (fd < 0) {
				fprintf(stderr, "Error: %s: %s: %s\n", m->label, path, strerror(e));
				return -1;
			}
		} else {
			fd = (int)syscall(SYS_memfd_create, m->name, 2 /* MFD_ALLOW_SEALING */ | 1 /* MFD_CLOEXEC */);
			if (fd < 0 || ftruncate(fd, (off_t)m->size) < 0) {
				fprintf(stderr, "Error: %s: memfd_create/ftruncate %lu: %s\n", m->label, (unsigned long)m->size, strerror(errno));
				return -1;
			}
			if (fchmod(fd, (mode_t)m->mode) < 0 || fchown(fd, (uid_t)m->uid, (gid_t)m->gid) < 0) {
				fprintf(stderr, "Error: %s: owner/mode: %s\n", m->label, strerror(errno));
				return -1;
			}
		}
		fd = move_high(fd);
		if (m->nr_runs) {
			int pfd = open(m->pages, O_RDONLY | O_CLOEXEC);
			if (pfd < 0) {
				fprintf(stderr, "Error: %s: %s: %s\n", m->label, m->pages, strerror(errno));
				return -1;
			}
			for (uint64_t k = 0; k < m->nr_runs; k++) {
				uint64_t off = m->runs[3 * k], len = m->runs[3 * k + 1], foff = m->runs[3 * k + 2];
				while (len) {
					size_t want = len < sizeof(buf) ? len : sizeof(buf);
					ssize_t r = pread(pfd, buf, want, (off_t)foff);
					if (r <= 0 || pwrite(fd, buf, r, (off_t)off) != r) {
						fprintf(stderr, "Error: %s: copying pages from %s: %s\n", m->label, m->pages, r < 0 ? strerror(errno) : "short read");
						close(pfd);
						return -1;
					}
					off += r; foff += r; len -= r;
				}
			}
			close(pfd);
		}
		if (!m->anon && m->seals && fcntl(fd, F_ADD_SEALS, (int)m->seals) < 0) {
			fprintf(stderr, "Error: %s: seals 0x%lx: %s\n", m->label, (unsigned long)m->seals, strerror(errno));
			return -1;
		}
		m->fd = fd;
	}
	return 0;
}

static int sys_error(void)
{
	fprintf(stderr, "Error: cannot create shared objects: %s\n", strerror(errno));
	return -1;
}

/* pipes, refilled with their unread data (each end's first object takes the pipe's own fds) */
static int create_pipes(void)
{
	for (uint64_t i = 0; i < nr_pipes; i++) {
		struct pipe_ *p = &pipes[i];
		int fds[2];
		if (pipe2(fds, 0) < 0)
			return sys_error();
		if (p->size)
			fcntl(fds[1], F_SETPIPE_SZ, (int)p->size);
		size_t off = 0;
		while (off < p->data.len) {
			ssize_t n = write(fds[1], p->data.p + off, p->data.len - off);
			if (n <= 0) {
				fprintf(stderr, "Error: cannot refill pipe %lu with %zu bytes: %s\n", (unsigned long)i, p->data.len, strerror(errno));
				return -1;
			}
			off += n;
		}
		p->fds[0] = move_high(fds[0]);
		p->fds[1] = move_high(fds[1]);
	}
	return 0;
}

/* FIFOs: one O_RDWR keeper per path while the objects are opened (so no open blocks or fails with
 * ENXIO), refilled with the unread data */
struct fifo_keeper { const char *path; int fd; };

static int open_fifo_keepers(struct fifo_keeper *keep, int *nkeep)
{
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_FIFO)
			continue;
		int k;
		for (k = 0; k < *nkeep && strcmp(keep[k].path, o->path); k++)
			;
		if (k == *nkeep) {
			int kfd = open(o->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (kfd < 0) {
				fprintf(stderr, "Error: %s: cannot open FIFO %s: %s\n", o->label, o->path, strerror(errno));
				return -1;
			}
			keep[*nkeep].path = o->path;
			keep[(*nkeep)++].fd = move_high(kfd);
		}
		if (o->fifo_size)
			fcntl(keep[k].fd, F_SETPIPE_SZ, (int)o->fifo_size);
		for (size_t off = 0; off < o->fifo_data.len;) {
			ssize_t n = write(keep[k].fd, o->fifo_data.p + off, o->fifo_data.len - off);
			if (n <= 0) {
				fprintf(stderr, "Error: %s: cannot refill FIFO %s with %zu bytes: %s\n", o->label, o->path, o->fifo_data.len, strerror(errno));
				return -1;
			}
			off += n;
		}
	}
	return 0;
}

/* a pty master: /dev/ptmx until the dumped index comes up (held ones go back), else the first one we got;
 * the slave's termios and window size, the input queued for the slave. -1 with errno set. */
static int open_pty_master(struct obj *o)
{
	int fd = -1;
	int want = (int)o->nums[0], held[64], nheld = 0, idx = -1;
	for (int tries = 0; tries < 64; tries++) {
		int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || ioctl(m, TIOCGPTN, &idx) < 0)
			return -1;
		if (idx == want) { fd = m; break; }
		held[nheld++] = m;
		if (idx > want)
			break;
	}
	if (fd < 0) {
		fd = held[0];
		ioctl(fd, TIOCGPTN, &idx);
		fprintf(stderr, "Warn: %s: /dev/pts/%d is in use, the pty gets /dev/pts/%d\n", o->label, want, idx);
	}
	for (int k = 0; k < nheld; k++)
		if (held[k] != fd)
			close(held[k]);
	int unlock = 0;
	ioctl(fd, TIOCSPTLCK, &unlock);
	o->pty_index = idx;
	char sp[32];
	snprintf(sp, sizeof(sp), "/dev/pts/%d", idx);
	int s = open(sp, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return -1;
	if (o->nums[12]) {
		struct termios tio;
		tcgetattr(s, &tio);
		tio.c_iflag = (tcflag_t)o->nums[1]; tio.c_oflag = (tcflag_t)o->nums[2];
		tio.c_cflag = (tcflag_t)o->nums[3]; tio.c_lflag = (tcflag_t)o->nums[4]; tio.c_line = (cc_t)o->nums[5];
		for (uint64_t k = 0; k < 19 && 13 + k < o->nr_nums && k < NCCS; k++)
			tio.c_cc[k] = (cc_t)o->nums[13 + k];
		if (tcsetattr(s, TCSANOW, &tio) < 0)
			return -1;
	}
	struct winsize ws = { (unsigned short)o->nums[6], (unsigned short)o->nums[7], (unsigned short)o->nums[8], (unsigned short)o->nums[9] };
	ioctl(s, TIOCSWINSZ, &ws);
	if (o->data.len && write(fd, o->data.p, o->data.len) != (ssize_t)o->data.len)
		return -1;
	if (o->nums[11]) {
		int on = 1;
		ioctl(fd, TIOCPKT, &on);
	}
	close(s);
	return fd;
}

/* object i: its fd (moved out of the way of the dumped fd numbers) in objs[i].fd; -1 once the error is printed */
static int create_object(uint64_t i)
{
	char err[300];
	struct obj *o = &objs[i];
	int fd = -1;
	switch (o->kind) {
	case OBJ_REG:
	case OBJ_FIFO:
		fd = open(o->path, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC | OBJ_GHOST)) | (o->kind == OBJ_FIFO ? O_NONBLOCK : 0));
		if (fd < 0) {
			fprintf(stderr, "Error: %s: cannot open %s: %s\n", o->label, o->path, strerror(errno));
			return -1;
		}
		if (o->kind == OBJ_FIFO && !(o->flags & O_NONBLOCK)) {
			int fl = fcntl(fd, F_GETFL);
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		}
		if (o->flags & O_ASYNC)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
		if (o->kind == OBJ_REG && o->pos && lseek(fd, (off_t)o->pos, SEEK_SET) < 0) {
			fprintf(stderr, "Error: %s: cannot seek %s to %lu: %s\n", o->label, o->path, (unsigned long)o->pos, strerror(errno));
			return -1;
		}
		break;
	case OBJ_EVENTFD:
		fd = eventfd((unsigned int)o->nums[0], (o->flags & O_NONBLOCK ? EFD_NONBLOCK : 0) | EFD_CLOEXEC);
		if (fd < 0)
			goto obj_err;
		if (o->nums[0] > 0xffffffffULL) {  /* eventfd() takes 32 bits: add the rest */
			uint64_t rest = o->nums[0] - (unsigned int)o->nums[0];
			if (write(fd, &rest, 8) != 8)
				goto obj_err;
		}
		break;
	case OBJ_TIMERFD: {
		fd = timerfd_create((int)o->nums[0], (o->flags & O_NONBLOCK ? TFD_NONBLOCK : 0) | TFD_CLOEXEC);
		if (fd < 0)
			goto obj_err;
		struct itimerspec its = { { (time_t)o->nums[2], (long)o->nums[3] }, { (time_t)o->nums[4], (long)o->nums[5] } };
		if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0)
			goto obj_err;
		if (o->nums[1]) {
			uint64_t ticks = o->nums[1];
			if (ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
				goto obj_err;
		}
		break;
	}
	case OBJ_SIGNALFD: {
		sigset_t ss;
		sigemptyset(&ss);
		for (int sig = 1; sig <= 64; sig++)
			if (o->nums[0] & (1ULL << (sig - 1)))
				sigaddset(&ss, sig);
		fd = signalfd(-1, &ss, (o->flags & O_NONBLOCK ? SFD_NONBLOCK : 0) | SFD_CLOEXEC);
		if (fd < 0)
			goto obj_err;
		break;
	}
	case OBJ_EPOLL:
		fd = epoll_create1(EPOLL_CLOEXEC);  /* targets: added by the task, at its fd numbers */
		if (fd < 0)
			goto obj_err;
		break;
	case OBJ_INOTIFY:
		fd = inotify_init1((o->flags & O_NONBLOCK ? IN_NONBLOCK : 0) | IN_CLOEXEC);
		if (fd < 0)
			goto obj_err;
		for (uint64_t k = 0; k < o->nr_watches; k++) {
			struct watch *w = &o->watches[k];
			/* watch descriptors come in order: add and drop until the dumped number comes up */
			for (int tries = 0;; tries++) {
				int wd = inotify_add_watch(fd, w->path, (uint32_t)(w->mask & ~0x08000000ULL /* FS_EVENT_ON_CHILD */));
				if (wd < 0) {
					fprintf(stderr, "Error: %s: watch %s: %s\n", o->label, w->path, strerror(errno));
					return -1;
				}
				if ((uint64_t)wd == w->wd)
					break;
				if ((uint64_t)wd > w->wd || tries > 100000) {
					fprintf(stderr, "Error: %s: watch %s got descriptor %d, not the dumped %lu\n", o->label, w->path, wd, (unsigned long)w->wd);
					return -1;
				}
				inotify_rm_watch(fd, wd);
			}
		}
		break;
	case OBJ_MEMFD: {
		/* a file description of its own on the memfd, with its flags and offset */
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfds[o->nums[0]].fd);
		fd = open(path, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)));
		if (fd < 0 || (o->pos && lseek(fd, (off_t)o->pos, SEEK_SET) < 0))
			goto obj_err;
		break;
	}
	case OBJ_PTY_MASTER:
		fd = open_pty_master(o);
		if (fd < 0)
			goto obj_err;
		break;
	case OBJ_PTY_SLAVE: {
		char sp[32];
		snprintf(sp, sizeof(sp), "/dev/pts/%d", objs[o->nums[0]].pty_index);
		fd = open(sp, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY);
		if (fd < 0)
			goto obj_err;
		break;
	}
	case OBJ_CALLER_TTY:
		if (!isatty(0)) {
			fprintf(stderr, "Error: %s: ckpt's stdin is not a terminal (run the restore of a shell job from one)\n", o->label);
			return -1;
		}
		fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			goto obj_err;
		break;
	case OBJ_INHERIT:
		fd = fcntl((int)o->inherit_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "Error: %s: the caller's fd %lu: %s\n", o->label, (unsigned long)o->inherit_fd, strerror(errno));
			return -1;
		}
		break;
	case OBJ_PIPE: {
		struct pipe_ *p = &pipes[o->pipe_no];
		int end = o->end ? 1 : 0;
		if (p->fds[end] >= 0) {
			fd = p->fds[end];
			p->fds[end] = -1;  /* the first object of this end takes the pipe's own OFD */
		} else {
			/* a second open file description of the same end */
			char path[64];
			int any = -1;
			for (uint64_t k = 0; k < i; k++)
				if (objs[k].kind == OBJ_PIPE && objs[k].pipe_no == o->pipe_no)
					any = objs[k].fd;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", any);
			fd = open(path, end ? O_WRONLY : O_RDONLY);
			if (fd < 0) {
				fprintf(stderr, "Error: %s: cannot reopen pipe: %s\n", o->label, strerror(errno));
				return -1;
			}
		}
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, (fl & ~(O_NONBLOCK | O_ASYNC)) | (o->flags & (O_NONBLOCK | O_ASYNC)));
		break;
	}
	case OBJ_UNIX:
		if (o->fd >= 0 || (o->flags & OBJ_EXTERNAL))
			return 0;  /* created with its peer / provided by the user */
		if (open_unix(o, err, sizeof(err)) < 0) {
			fprintf(stderr, "Error: %s: %s\n", o->label, err);
			return -1;
		}
		return 0;
	}
	o->fd = move_high(fd);
	if (o->fd < 0)
		return sys_error();
	return 0;
obj_err:
	fprintf(stderr, "Error: %s: %s\n", o->label, strerror(errno));
	return -1;
}

/* queued socket data: sent from the peer, or from a throwaway socket when the peer is gone */
static int requeue_socket_data(void)
{
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_UNIX || !o->nr_queue)
			continue;
		int from = -1, tmp = -1;
		if (o->sk_peer_obj != ~0ULL && objs[o->sk_peer_obj].fd >= 0 && o->sk_type != SOCK_DGRAM)
			from = objs[o->sk_peer_obj].fd;
		for (uint64_t k = 0; k < o->nr_queue; k++) {
			ssize_t n;
			if (from >= 0)
				n = send(from, o->queue[k].p, o->queue[k].len, MSG_DONTWAIT | MSG_NOSIGNAL);
			else {
				/* datagram: address the socket by its name, or through its peer's connection */
				if (tmp < 0)
					tmp = socket(AF_UNIX, o->sk_type, 0);
				struct sockaddr_un sa = { .sun_family = AF_UNIX };
				socklen_t sl = offsetof(struct sockaddr_un, sun_path) + o->sk_name.len;
				memcpy(sa.sun_path, o->sk_name.p, o->sk_name.len < sizeof(sa.sun_path) ? o->sk_name.len : sizeof(sa.sun_path));
				if (o->sk_name.len && o->sk_name.p[o->sk_name.len - 1] == 0 && o->sk_name.p[0] != 0)
					sl--;
				if (o->sk_name.len)
					n = sendto(tmp, o->queue[k].p, o->queue[k].len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sl);
				else if (o->sk_peer_obj != ~0ULL && objs[o->sk_peer_obj].fd >= 0)
					n = send(objs[o->sk_peer_obj].fd, o->queue[k].p, o->queue[k].len, MSG_DONTWAIT | MSG_NOSIGNAL);
				else {
					errno = ENOTCONN;
					n = -1;
				}
			}
			if (n != (ssize_t)o->queue[k].len) {
				fprintf(stderr, "Error: %s: cannot requeue %zu bytes: %s\n", o->label, o->queue[k].len, strerror(errno));
				return -1;
			}
		}
		if (tmp >= 0)
			close(tmp);
	}
	return 0;
}

/* sockets' shutdown and non-blocking state, last (after the queues are filled) */
static void finish_sockets(void)
{
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_UNIX || o->fd < 0)
			continue;
		if (o->sk_shutdown == 1 || o->sk_shutdown == 2 || o->sk_shutdown == 3)
			shutdown(o->fd, (int)o->sk_shutdown - 1);
		int fl = fcntl(o->fd, F_GETFL);
		fcntl(o->fd, F_SETFL, (fl & ~O_NONBLOCK) | (o->flags & O_NONBLOCK));
	}
}

static int create_objects(void)
{
	if (create_memfds() < 0 || create_pipes() < 0)
		return -1;
	int nkeep = 0;
	struct fifo_keeper *keep = calloc(nr_objs + 1, sizeof(*keep));
	if (open_fifo_keepers(keep, &nkeep) < 0)
		return -1;
	for (uint64_t i = 0; i < nr_objs; i++)
		if (create_object(i) < 0)
			return -1;
	for (int k = 0; k < nkeep; k++)
		close(keep[k].fd);
	free(keep);
	if (requeue_socket_data() < 0)
		return -1;
	finish_sockets();
	return 0;
}

static void sk_opts(struct obj *o, int fd)
{
	int v;
	if (o->sk_sndbuf) { v = (int)o->sk_sndbuf / 2; setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)); }
	if (o->sk_rcvbuf) { v = (int)o->sk_rcvbuf / 2; setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)); }
	if (o->sk_passcred) { v = 1; setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)); }
}

static socklen_t sk_addr(struct obj *o, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = o->sk_name.len < sizeof(sa->sun_path) ? o->sk_name.len : sizeof(sa->sun_path);
	memcpy(sa->sun_path, o->sk_name.p, n);
	socklen_t sl = offsetof(struct sockaddr_un, sun_path) + n;
	if (n && sa->sun_path[0] != 0 && sa->sun_path[n - 1] == 0)
		sl--;  /* path names are stored with their NUL */
	return sl;
}

/* Unix sockets: pairs (both ends in the tree) come from socketpair(); named listeners are bound and listen;
 * a socket connected to a named socket of the tree connects to it. */
static int open_unix(struct obj *o, char *err, size_t errn)
{
	struct obj *peer = o->sk_peer_obj != ~0ULL ? &objs[o->sk_peer_obj] : NULL;
	int type = (int)o->sk_type;
	enum { TCP_ESTABLISHED = 1, TCP_LISTEN = 10, TCP_CLOSE = 7 };
	struct sockaddr_un sa;
	/* an accepted connection: connect the peer to the listener and accept (names come out right) */
	if (peer && peer->fd < 0 && o->sk_listener == ~0ULL && peer->sk_listener != ~0ULL && peer->sk_peer_obj == (uint64_t)(o - objs))
		return open_unix(peer, err, errn);
	if (peer && peer->fd < 0 && o->sk_listener != ~0ULL) {
		struct obj *l = &objs[o->sk_listener];
		if (l->fd < 0 && open_unix(l, err, errn) < 0)
			return -1;
		int c = socket(AF_UNIX, (int)peer->sk_type, 0);
		if (c < 0) {
			snprintf(err, errn, "socket: %s", strerror(errno));
			return -1;
		}
		sk_opts(peer, c);
		if (peer->sk_name.len) {
			socklen_t pl = sk_addr(peer, &sa);
			if (sa.sun_path[0])
				unlink(sa.sun_path);
			if (bind(c, (struct sockaddr *)&sa, pl) < 0) {
				snprintf(err, errn, "bind the connecting peer: %s", strerror(errno));
				return -1;
			}
		}
		socklen_t sl = sk_addr(l, &sa);
		if (connect(c, (struct sockaddr *)&sa, sl) < 0) {
			snprintf(err, errn, "connect to the listener: %s", strerror(errno));
			return -1;
		}
		int acc = accept(l->fd, NULL, NULL);
		if (acc < 0) {
			snprintf(err, errn, "accept: %s", strerror(errno));
			return -1;
		}
		sk_opts(o, acc);
		o->fd = move_high(acc);
		peer->fd = move_high(c);
		return 0;
	}
	if (peer && peer->fd < 0 && peer->kind == OBJ_UNIX && !(peer->sk_state == TCP_LISTEN) &&
	    (peer->sk_peer_obj == (uint64_t)(o - objs)) && !o->sk_name.len && !peer->sk_name.len) {
		int sv[2];
		if (socketpair(AF_UNIX, type, 0, sv) < 0) {
			snprintf(err, errn, "socketpair: %s", strerror(errno));
			return -1;
		}
		o->fd = move_high(sv[0]);
		peer->fd = move_high(sv[1]);
		sk_opts(o, o->fd);
		sk_opts(peer, peer->fd);
		return 0;
	}
	int fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		snprintf(err, errn, "socket: %s", strerror(errno));
		return -1;
	}
	sk_opts(o, fd);
	if (o->sk_name.len) {
		socklen_t sl = sk_addr(o, &sa);
		if (sa.sun_path[0])
			unlink(sa.sun_path);  /* the stale socket file of the dumped listener */
		if (bind(fd, (struct sockaddr *)&sa, sl) < 0) {
			snprintf(err, errn, "bind: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (o->sk_state == TCP_LISTEN && listen(fd, (int)o->sk_backlog) < 0) {
		snprintf(err, errn, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	o->fd = move_high(fd);
	if (peer && peer->sk_name.len && (o->sk_state == TCP_ESTABLISHED || type == SOCK_DGRAM)) {
		if (peer->fd < 0 && !(peer->flags & OBJ_EXTERNAL) && open_unix(peer, err, errn) < 0)
			return -1;
		socklen_t sl = sk_addr(peer, &sa);
		if (connect(o->fd, (struct sockaddr *)&sa, sl) < 0) {
			snprintf(err, errn, "connect to %s: %s", sa.sun_path[0] ? sa.sun_path : "@abstract", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- layout */

struct range { uint64_t s, e; };

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* lowest gap >= 0x10000 of `need` bytes free in our layout and every task's */
static uint64_t find_hole(uint64_t need)
{
	size_t cap = 256, n = 0;
	struct range *r = malloc(cap * sizeof(*r));
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || s >= TASK_SIZE)
			continue;
		if (n == cap)
			r = realloc(r, (cap *= 2) * sizeof(*r));
		r[n++] = (struct range){ s, e };
	}
	if (f)
		fclose(f);
	for (uint64_t i = 0; i < nr_tasks; i++)
		for (uint64_t k = 0; k < tasks[i].nr_vmas; k++) {
			if (n == cap)
				r = realloc(r, (cap *= 2) * sizeof(*r));
			r[n++] = (struct range){ tasks[i].vmas[k].start, tasks[i].vmas[k].end };
		}
	for (uint64_t i = 0; i < nr_tasks; i++)
		if (tasks[i].vdso_hint) {
			if (n == cap)
				r = realloc(r, (cap *= 2) * sizeof(*r));
			r[n++] = (struct range){ tasks[i].vdso_hint, tasks[i].vdso_expect + tasks[i].vdso_len };
		}
	qsort(r, n, sizeof(*r), cmp_range);
	uint64_t at = 0x10000;
	for (size_t i = 0; i < n; i++) {
		if (r[i].s >= at + need + PAGE)  /* one guard page below the next mapping */
			break;
		if (r[i].e > at)
			at = PALIGN(r[i].e + PAGE);
	}
	free(r);
	return at + need + PAGE < TASK_SIZE ? at : 0;
}

static uint64_t blob_size(void) { return PALIGN(restore_blob_len); }

static uint64_t task_need(struct task *t)
{
	uint64_t n = blob_size() + PALIGN(sizeof(struct rst_args));
	n += PALIGN(t->nr_vmas * sizeof(struct rst_vma));
	n += PALIGN(t->nr_iovs * sizeof(struct rst_iov));
	n += PALIGN(t->nr_iovs * 8);
	n += PALIGN(t->nr_threads * sizeof(struct rst_thread));
	n += t->nr_threads * (THREAD_STACK + FRAME_AREA);
	n += THREAD_STACK; /* the blob's own stack */
	n += PALIGN(t->nr_sigs * sizeof(struct rst_siginfo));
	n += PALIGN(t->nr_ptimers * sizeof(struct rst_ptimer));
	n += PALIGN(t->nr_seccomp * sizeof(struct rst_seccomp));
	n += PALIGN(t->nr_vdso_patches * sizeof(struct rst_vdso_patch));
	for (uint64_t k = 0; k < t->nr_seccomp; k++)
		n += PALIGN(t->sc_insns[k].len);
	return n;
}

/* ---------------------------------------------------------------- per task */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void task_main(uint64_t ti) __attribute__((noreturn));

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
			pid_t p = clone_with_pid((pid_t)k->pid);
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
		signal((int)(t->exit_code & 0x7f), SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, (int)(t->exit_code & 0x7f));
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		kill(getpid(), (int)(t->exit_code & 0x7f));
	}
	_exit((int)((t->exit_code >> 8) & 0xff));
}

/* what the blob is handed open (high fds, closed by the blob): mapped files, the executable, the pages image */
struct blob_fds {
	int exe, pages, nclose;
	int close[RST_MAX_FDS_CLOSE];
};

static void open_blob_files(uint64_t ti, struct blob_fds *bf)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	bf->exe = bf->pages = -1;
	bf->nclose = 0;
	for (uint64_t k = 0; k < t->nr_files; k++) {
		struct mfile *m = &t->files[k];
		int fd;
		if (m->obj != ~0ULL) {  /* a ghost file: already unlinked, reopened through our own fd */
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", objs[m->obj].fd);
			fd = open(p, (int)m->oflags | O_CLOEXEC);
		} else
			fd = m->memfd != ~0ULL ? fcntl(memfds[m->memfd].fd, F_DUPFD_CLOEXEC, 0) : open(m->path, (int)m->oflags);
		if (fd < 0)
			task_fail(ti, "task %lu: mapped file %s: %s", pid,
				  m->obj != ~0ULL ? objs[m->obj].label : m->memfd != ~0ULL ? memfds[m->memfd].label : m->path, strerror(errno));
		m->fd = move_high(fd);
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

/* fds at their numbers, everything else closed */
static void place_fds(uint64_t ti, const struct blob_fds *bf)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	for (uint64_t k = 0; k < t->nr_fds; k++) {
		struct fdent *f = &t->fds[k];
		struct obj *o = &objs[f->obj];
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
		int *keep = malloc((t->nr_fds + bf->nclose + 2) * sizeof(int));
		for (uint64_t k = 0; k < t->nr_fds; k++)
			keep[n++] = (int)t->fds[k].fd;
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

/* signal owners (they name restored PIDs, so only now), epoll registrations, and file locks (POSIX ones
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
		const char *what = l[0] == 2 ? "flock" : l[0] == 4 ? "OFD lock" : "POSIX lock";
		if (l[0] == 2) {
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

/* per process, before the blob (threads it clones inherit them): umask, scheduling, subreaper, OOM score, root, cwd */
static void process_attrs(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	umask((mode_t)t->umask);
	if (t->policy) {
		struct sched_param sp = { .sched_priority = (int)t->prio };
		if (sched_setscheduler(0, (int)t->policy, &sp) < 0)
			task_fail(ti, "task %lu: scheduling policy %lu: %s", pid, (unsigned long)t->policy, strerror(errno));
	}
	if (setpriority(PRIO_PROCESS, 0, (int)(int64_t)t->nice) < 0)
		task_fail(ti, "task %lu: nice %ld: %s", pid, (long)(int64_t)t->nice, strerror(errno));
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
	if (t->root[0] && strcmp(t->root, "/") && chroot(t->root) < 0)
		task_fail(ti, "task %lu: root %s: %s", pid, t->root, strerror(errno));
	if (t->cwd[0] && chdir(t->cwd) < 0)
		task_fail(ti, "task %lu: cwd %s: %s", pid, t->cwd, strerror(errno));
}

static uint64_t rt_vvar_len, rt_vdso_len;  /* this kernel's, from our maps (check_vdso) */
static uint64_t rt_vvar_at;                /* where proxied tasks get them (place_vdso_proxy) */

/* the running vvar+vdso: where the dump had them, or (proxied) at rt_vvar_at with the patches' jumps aimed there */
static uint8_t *vdso_blob_args(struct task *t, struct rst_args *a, uint8_t *cur)
{
	a->vdso_hint = t->vdso_proxy ? rt_vvar_at : t->vdso_hint;
	a->vdso_expect = t->vdso_proxy ? rt_vvar_at + rt_vvar_len : t->vdso_expect;
	a->nr_vdso_patches = (uint32_t)t->nr_vdso_patches;
	a->vdso_patches = (struct rst_vdso_patch *)cur;
	for (uint64_t k = 0; k < t->nr_vdso_patches; k++) {
		struct vdso_patch *v = &t->vdso_patches[k];
		struct rst_vdso_patch *p = &a->vdso_patches[k];
		p->at = v->at;
		p->len = (uint32_t)v->code.len;
		memcpy(p->code, v->code.p, v->code.len);
		if (v->rel != ~0ULL) {
			uint64_t x;
			memcpy(&x, p->code + v->rel, 8);
			x += a->vdso_expect;
			memcpy(p->code + v->rel, &x, 8);
		}
	}
	return cur + PALIGN(t->nr_vdso_patches * sizeof(struct rst_vdso_patch));
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
	a->keep_end = region + region_len + arena_len;
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
	for (uint64_t k = 0; k < t->nr_iovs; k++)
		a->iov_off[k] = t->iov[3 * k + 2];
	cur += PALIGN(t->nr_iovs * 8);
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
		a->cap_eff[j] = t->caps[2][j]; a->cap_bnd[j] = t->caps[3][j];
	}
	a->no_new_privs = t->no_new_privs;
	a->dumpable = (int32_t)t->dumpable;
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
	a->stop_self = t->state == 3;
	a->nr_ptimers = (uint32_t)t->nr_ptimers;
	a->ptimers = (struct rst_ptimer *)cur;
	for (uint64_t k = 0; k < t->nr_ptimers; k++) {
		struct rst_ptimer *q = &a->ptimers[k];
		uint64_t *v = t->ptimers[k];
		q->id = (int32_t)v[0]; q->clock = (int32_t)v[1]; q->notify = (int32_t)v[2]; q->signo = (int32_t)v[3]; q->tid = (int32_t)v[4];
		q->sival = v[5]; q->isec = v[6]; q->insec = v[7]; q->vsec = v[8]; q->vnsec = v[9];
	}
	cur += PALIGN(t->nr_ptimers * sizeof(struct rst_ptimer));
	a->nr_seccomp = (uint32_t)t->nr_seccomp;
	a->seccomp = (struct rst_seccomp *)cur;
	cur += PALIGN(t->nr_seccomp * sizeof(struct rst_seccomp));
	for (uint64_t k = 0; k < t->nr_seccomp; k++) {
		a->seccomp[k].len = (uint16_t)(t->sc_insns[k].len / 8);
		a->seccomp[k].flags = (uint32_t)t->sc_flags[k];
		a->seccomp[k].filter = (uint64_t)cur;
		memcpy(cur, t->sc_insns[k].p, t->sc_insns[k].len);
		cur += PALIGN(t->sc_insns[k].len);
	}
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
		cur += THREAD_STACK;
		r->stack_top = (uint64_t)cur;
		r->frame = (uint64_t)cur;
		memcpy(cur, h->frame.p, h->frame.len);
		if (h->frame.len > 448)
			*(uint64_t *)(cur + 232) = (uint64_t)cur + 448;  /* fpstate */
		cur += FRAME_AREA;
	}
	uint64_t stack_top = (uint64_t)cur + THREAD_STACK - 64;
	if (stack_top > region + region_len)
		task_fail(ti, "task %lu: blob region too small", pid);
	return stack_top;
}

static void task_main(uint64_t ti)
{
	struct task *t = &tasks[ti];
	struct rst_status *st = &arena->task[ti];
	unsigned long pid = t->pid;
	st->pid = getpid();
	if ((uint64_t)getpid() != t->pid)
		task_fail(ti, "task %lu: got PID %d", pid, getpid());
	prctl(PR_SET_PDEATHSIG, 0);

	join_session(ti);
	st->stage = RST_STAGE_FORKED;
	futex_wake(&st->stage);

	fork_children(ti);

	if (t->state == 2)
		end_as_zombie(ti);

	struct blob_fds bf;
	open_blob_files(ti, &bf);
	place_fds(ti, &bf);
	fd_owners_epoll_locks(ti);
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

/* ---------------------------------------------------------------- unmapping the restorer

 * Once a task's threads have rt_sigreturned, the region (blob, args, stacks, frames) is the only trace of
 * the restore left in it. As their tracer we stop every thread, let any thread still inside the region
 * finish its rt_sigreturn (PTRACE_SYSCALL to the syscall exit), then run munmap(region) on the leader at
 * the blob's "syscall; int3", stop at the syscall exit, put its registers back and detach. */

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

static int unmap_region(uint64_t ti)
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

/* ---------------------------------------------------------------- controller */

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
	case RST_STEP_SECCOMP: return "install a seccomp filter";
	case RST_STEP_PTIMER: return "create a POSIX timer";
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

static int report_failure(void)
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

/* This kernel's vvar+vdso (from our maps) against each task's plan. Mapped where the dump had them: the same
 * sizes and order (the plan compared the symbols). Proxied: the running pair goes into a hole as one piece
 * (vvar directly below the vdso text, as ARCH_MAP_VDSO_64 maps it), and every patch lies in a private anonymous
 * VMA of the task that receives pages (the dumped vdso). */
static int check_vdso(void)
{
	uint64_t vvar_s = 0, vvar_e = 0, vdso_s = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (strstr(line, "[vvar]") || strstr(line, "[vvar_vclock]")) {
			if (!vvar_s)
				vvar_s = s;
			vvar_e = e;
			rt_vvar_len += e - s;
		} else if (strstr(line, "[vdso]")) {
			vdso_s = s;
			rt_vdso_len += e - s;
		}
	}
	if (f)
		fclose(f);
	for (uint64_t i = 0; i < nr_tasks; i++) {
		struct task *t = &tasks[i];
		if (!t->vdso_hint)
			continue;
		if (t->vdso_proxy) {
			if (!rt_vdso_len || vvar_e != vdso_s || vvar_e - vvar_s != rt_vvar_len) {
				fprintf(stderr, "Error: task %lu: %s: no vDSO to redirect the dumped one to\n", (unsigned long)t->pid,
					rt_vdso_len ? "this kernel's vvar is not directly below its vDSO" : "this kernel maps no vDSO");
				return -1;
			}
			for (uint64_t k = 0; k < t->nr_vdso_patches; k++) {
				struct vdso_patch *p = &t->vdso_patches[k];
				uint64_t j = 0;
				while (j < t->nr_vmas && !(t->vmas[j].start <= p->at && p->at + p->code.len <= t->vmas[j].end &&
							   t->vmas[j].file == ~0ULL && t->vmas[j].add_write))
					j++;
				if (j == t->nr_vmas) {
					fprintf(stderr, "Error: task %lu: vDSO proxy patch at 0x%lx is outside the dumped vDSO\n", (unsigned long)t->pid, (unsigned long)p->at);
					return -1;
				}
			}
			continue;
		}
		if (t->vvar_len != rt_vvar_len || t->vdso_len != rt_vdso_len || t->vdso_expect != t->vdso_hint + rt_vvar_len) {
			fprintf(stderr, "Error: task %lu: vDSO layout of the dump (vvar %lu KiB, vdso %lu KiB) differs from this kernel's (vvar %lu KiB, vdso %lu KiB)\n",
				(unsigned long)t->pid, (unsigned long)(t->vvar_len >> 10), (unsigned long)(t->vdso_len >> 10),
				(unsigned long)(rt_vvar_len >> 10), (unsigned long)(rt_vdso_len >> 10));
			return -1;
		}
	}
	return 0;
}

/* once the region is mapped (our maps then hold it): a hole for the running vvar+vdso of proxied tasks */
static int place_vdso_proxy(void)
{
	for (uint64_t i = 0; i < nr_tasks; i++) {
		struct task *t = &tasks[i];
		if (!t->vdso_proxy)
			continue;
		if (!rt_vvar_at && !(rt_vvar_at = find_hole(rt_vvar_len + rt_vdso_len))) {
			fprintf(stderr, "Error: task %lu: no room for this kernel's vDSO beside the dumped one\n", (unsigned long)t->pid);
			return -1;
		}
		info("task %lu: vDSO proxy (%s): this kernel's vvar+vDSO at 0x%lx, %lu entry points redirected", (unsigned long)t->pid,
		     t->vdso_why, (unsigned long)rt_vvar_at, (unsigned long)t->nr_vdso_patches);
	}
	return 0;
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

	/* PIDs and TIDs must be free */
	for (uint64_t i = 0; i < nr_tasks; i++)
		for (uint64_t k = 0; k < tasks[i].nr_threads; k++) {
			pid_t p = (pid_t)tasks[i].thr[k].tid;
			if (pid_taken_wait(p)) {
				char who[64];
				pid_owner(p, who, sizeof(who));
				fprintf(stderr, "Error: task %lu: %s %d is in use (by '%s'); restore needs it free\n",
					(unsigned long)tasks[i].pid, k ? "TID" : "PID", p, who);
				return 1;
			}
		}
	if (check_vdso() < 0)
		return 1;

	/* fds: shared objects live above every fd number the tasks use */
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
		return 1;
	}

	/* region (blob, args, stacks, frames) + arena, at one address free for everyone */
	region_len = 0;
	for (uint64_t i = 0; i < nr_tasks; i++) {
		uint64_t n = task_need(&tasks[i]);
		if (n > region_len)
			region_len = n;
	}
	region_len = PALIGN(region_len);
	arena_len = PALIGN(sizeof(struct rst_arena) + nr_tasks * sizeof(struct rst_status));
	region = find_hole(region_len + arena_len);
	if (!region) {
		fprintf(stderr, "Error: no address range is free in both the helper's and the dumped layouts\n");
		return 1;
	}
	void *m = mmap((void *)region, region_len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	void *s = mmap((void *)(region + region_len), arena_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (void *)region || s != (void *)(region + region_len)) {
		fprintf(stderr, "Error: cannot map the restorer at 0x%lx: %s\n", (unsigned long)region, strerror(errno));
		return 1;
	}
	memcpy((void *)region, restore_blob, restore_blob_len);
	arena = s;
	arena->nr_tasks = (int32_t)nr_tasks;
	info("restorer at 0x%lx (%lu KiB), arena at 0x%lx", (unsigned long)region, (unsigned long)(region_len >> 10), (unsigned long)(region + region_len));
	if (place_vdso_proxy() < 0)
		return 1;

	if (create_objects() < 0)
		return 1;
	/* ghost files are open: their names go (the caller removes any left by a failure before this) */
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_REG && (objs[i].flags & OBJ_GHOST) && unlink(objs[i].path) < 0 && errno != ENOENT)
			fprintf(stderr, "Warn: %s: cannot unlink %s: %s\n", objs[i].label, objs[i].path, strerror(errno));
	/* the caller's inherited fds live on only as objects */
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_INHERIT)
			close((int)objs[i].inherit_fd);

	/* all signals blocked from here; each task's mask comes from its sigframe */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t root = clone_with_pid((pid_t)tasks[0].pid);
	if (root < 0) {
		fprintf(stderr, "Error: task %lu: clone3 with PID %lu: %s%s\n", (unsigned long)tasks[0].pid, (unsigned long)tasks[0].pid,
			strerror(errno), errno == EEXIST ? " (PID in use)" : "");
		return 1;
	}
	if (root == 0)
		task_main(0);
	arena->task[0].pid = root;

	/* wait: every task prepared (or one failed, or one died) */
	int failed = 0;
	const long limit_ms = 20000;
	long waited = 0;
	while (arena->nr_prepared < (int32_t)nr_tasks) {
		if (arena->nr_failed) { failed = 1; break; }
		int status;
		pid_t p = waitpid(-1, &status, __WALL | WNOHANG);
		if (p > 0) {
			fprintf(stderr, "Error: task %d died while being prepared (status 0x%x)\n", p, status);
			failed = 1;
			break;
		}
		int32_t v = arena->nr_prepared;
		futex_wait(&arena->nr_prepared, v, 5);
		if ((waited += 5) > limit_ms) {
			fprintf(stderr, "Error: timed out preparing the tasks\n");
			failed = 1;
			break;
		}
	}
	struct timespec tp;
	clock_gettime(CLOCK_MONOTONIC, &tp);
	if (!failed) {
		info("%lu task(s) prepared, jumping into the restorer", (unsigned long)nr_tasks);
		arena->go = 1;
		futex_wake(&arena->go);
		waited = 0;
		while (arena->nr_done < (int32_t)nr_tasks) {
			if (arena->nr_failed) { failed = 1; break; }
			int status;
			pid_t p = waitpid(-1, &status, __WALL | WNOHANG);
			if (p > 0) {
				int zombie = 0;
				for (uint64_t i = 0; i < nr_tasks; i++)
					if ((pid_t)tasks[i].pid == p && tasks[i].state == 2)
						zombie = 1;
				if (!zombie) {
					fprintf(stderr, "Error: task %d died in the restorer (%s %d)\n", p,
						WIFSIGNALED(status) ? "signal" : "exit code", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
					failed = 1;
					break;
				}
			}
			int32_t v = arena->nr_done;
			futex_wait(&arena->nr_done, v, 5);
			if ((waited += 5) > limit_ms) {
				fprintf(stderr, "Error: timed out waiting for the restorer\n");
				failed = 1;
				break;
			}
		}
	}
	if (failed) {
		report_failure();
		arena->go = -1;
		futex_wake(&arena->go);
		kill_all();
		return 1;
	}
	for (uint64_t i = 0; i < nr_tasks; i++) {
		if (tasks[i].state == 2)
			continue;
		if (unmap_region(i) < 0)
			fprintf(stderr, "Warn: task %lu: cannot unmap the restorer at 0x%lx: %s\n", (unsigned long)tasks[i].pid, (unsigned long)region, strerror(errno));
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
	if (plan_flags & FLAG_DETACHED) {
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		return 0;
	}
	int status = 0;
	while (waitpid(root, &status, __WALL) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
