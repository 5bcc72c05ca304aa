/* The restore plan as the helper holds it: plain numbers, strings and byte strings written by
 * packages/engine/src/restore/plan.ts, read by read_plan (plan-read.c). */
#ifndef CKPT_RESTORE_PLAN_H
#define CKPT_RESTORE_PLAN_H
#include <stddef.h>
#include <stdint.h>

#define FRAME_AREA 0x2000ULL  /* a thread's sigframe area in the region: no frame of the plan is longer */

struct buf { const uint8_t *p; size_t len; };

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

struct task {
	uint64_t pid, parent, pgid, sid, state, exit_code;
	uint64_t umask; char *cwd, *root, *exe, *pages;
	uint64_t nr_fds; struct fdent *fds;
	uint64_t nr_files; struct mfile *files;
	uint64_t nr_vmas; struct vma *vmas;
	uint64_t nr_iovs; uint64_t *iov; /* base, len, off triples */
	uint64_t vdso_hint, vdso_expect, vvar_len, vdso_len;
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

extern uint64_t plan_flags, nr_tasks, nr_objs, nr_pipes, nr_memfds;
extern struct memfd_ *memfds;
extern struct obj *objs;
extern struct pipe_ *pipes;
extern struct task *tasks;

#define PLAN_MAGIC 0x31545352544b5043ULL /* "CPKTRST1" */
#define FLAG_DETACHED 1
#define FLAG_SHELL_JOB 2

void read_plan(const char *path);

#endif
