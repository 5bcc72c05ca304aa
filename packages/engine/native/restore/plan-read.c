/* read_plan: the plan file into the tables of plan.h; exits with one line when it is truncated or corrupt */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

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

uint64_t plan_flags, nr_tasks, nr_objs, nr_pipes, nr_memfds;
struct memfd_ *memfds;
struct obj *objs;
struct pipe_ *pipes;
struct task *tasks;

void read_plan(const char *path)
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
