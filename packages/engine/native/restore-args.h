/* Arguments of the restorer blob (restore-blob.c), laid out by the restore helper (restore/tasks.c)
 * inside the blob's region. Plain numbers and absolute pointers into the region only: the blob is
 * position independent and has no relocations. */
#pragma once
#include <stdint.h>

#define RST_MAX_FDS_CLOSE 256

struct rst_vma {
	uint64_t start, end, pgoff;
	uint32_t prot, flags;  /* image prot, mmap flags (without MAP_FIXED) */
	int32_t fd;            /* file to map, -1 anonymous */
	uint32_t madv_lo;      /* madvise bits 0..31 */
	uint32_t madv_hi;      /* madvise bits 32..63 */
	uint32_t add_write;    /* map with PROT_WRITE first (private VMAs receiving pages) */
	uint64_t premap;       /* mapped and filled by the helper there (premap.c): mremap()ed into place */
};

struct rst_iov { uint64_t base, len; };

/* one seccomp filter of a chain (oldest first): a struct sock_fprog plus flags */
struct rst_seccomp { uint16_t len; uint16_t pad[3]; uint64_t filter; uint32_t flags, pad2; };

struct rst_thread {
	uint64_t tid;
	uint64_t frame;        /* address of the rt_sigframe (64-aligned) */
	uint64_t stack_top;
	uint64_t clear_tid, robust, robust_len, fs_base, gs_base;
	uint64_t rseq_ptr;
	uint32_t rseq_size, rseq_sig;
	char comm[16];
	int32_t policy, prio, nice;  /* scheduling: each thread sets its own */
	uint32_t seccomp_strict;     /* seccomp, entered last: strict mode, or the filter chain */
	uint32_t nr_seccomp; struct rst_seccomp *seccomp;
};

struct rst_sigact { uint64_t handler, flags, restorer, mask; };

/* a pending signal to queue again: tid 0 = the whole process */
struct rst_siginfo { int32_t tid, signo; uint8_t info[128]; };

/* a POSIX timer: created with its dumped id (PR_TIMER_CREATE_RESTORE_IDS), armed with what was left */
struct rst_ptimer { int32_t id, clock, notify, signo, tid, pad; uint64_t sival, isec, insec, vsec, vnsec; };


/* vDSO proxy: bytes written over an entry point of the dumped vDSO (a jump into the running one) */
struct rst_vdso_patch { uint64_t at; uint32_t len, pad; uint8_t code[16]; };

/* an AIO ring (restore/aio-blob.h): where it was, io_setup's nr_events giving that length */
#define RST_MAX_AIOS 64
struct rst_aio { uint64_t addr, nr_req, len; };

/* Shared with the controller (MAP_SHARED arena): progress and errors of one task. */
struct rst_status {
	volatile int32_t stage;    /* RST_STAGE_* */
	volatile int32_t pid;
	volatile int32_t step;     /* blob step that failed (RST_STEP_*) */
	volatile int32_t err;      /* -errno */
	volatile uint64_t detail;  /* e.g. the address of the VMA */
	volatile int32_t fdt;      /* tasks of a shared fd table: RST_FDT_* reached */
	char msg[240];             /* helper-side error text */
};

enum {
	RST_FDT_CHILDREN = 1,      /* its children are cloned: nothing is closed in the table they copied */
	RST_FDT_READY = 2,         /* the table's first task: fds placed; a task sharing it: its own files opened */
};

enum {
	RST_STAGE_NONE = 0,
	RST_STAGE_FORKED = 1,      /* pid, sid, pgid in place */
	RST_STAGE_PREPARED = 2,    /* fds, cwd, region ready; waiting for go */
	RST_STAGE_DONE = 3,        /* blob done but for seccomp; waiting for every other task */
	RST_STAGE_FAILED = 9,
};

enum {
	RST_STEP_UNMAP = 1, RST_STEP_VDSO, RST_STEP_MMAP, RST_STEP_PAGES, RST_STEP_MPROTECT, RST_STEP_MM_MAP,
	RST_STEP_SIGACTION, RST_STEP_THREAD, RST_STEP_CREDS, RST_STEP_ITIMER, RST_STEP_RSEQ, RST_STEP_TLS,
	RST_STEP_VDSO_PLACE, RST_STEP_SIGNALS, RST_STEP_SECCOMP, RST_STEP_PTIMER, RST_STEP_THP, RST_STEP_GUARD, RST_STEP_AIO,
	RST_STEP_SCHED,
};

/* <linux/userfaultfd.h>, checked against it by the helper */
#define RST_UFFD_API 0xAA
#define RST_UFFDIO_API 0xC018AA3FUL
#define RST_UFFDIO_REGISTER 0xC020AA00UL
#define RST_UFFDIO_UNREGISTER 0x8010AA01UL
#define RST_UFFDIO_COPY 0xC028AA03UL

#define RST_BLOB_SYSCALL 8  /* offset of "syscall; int3" in the blob */

struct rst_arena {
	volatile int32_t go;       /* 1: jump into the blob; -1: abort */
	volatile int32_t nr_prepared, nr_done, nr_failed;
	int32_t nr_tasks;
	volatile int32_t resume;   /* 1: every task is done and held by the controller, leave the blob; -1: die */
	struct rst_status task[];  /* nr_tasks */
};

struct rst_mm_map {  /* struct prctl_mm_map */
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size, exe_fd;
};

struct rst_args {
	uint64_t keep_start, keep_end;  /* region + arena + premap window: everything else is unmapped */
	uint64_t premap_start, premap_len;  /* the premap window, unmapped once this task's premaps are in place */
	struct rst_status *status;
	struct rst_arena *arena;
	uint64_t task_size;

	uint32_t nr_vmas; struct rst_vma *vmas;
	uint32_t nr_iovs; struct rst_iov *iovs;
	uint32_t nr_guards; uint64_t (*guards)[2];  /* start, end: MADV_GUARD_INSTALL once the VMAs are in place */
	uint64_t *iov_off;      /* offset of each iovec's data in the pages file */
	int32_t pages_fd; int32_t pad0;
	uint64_t pages_size;    /* of the pages file: mapped read-only for UFFDIO_COPY */

	uint64_t vdso_hint;     /* where the running vvar goes (the dumped place, or a hole when proxied), 0: no vdso */
	uint64_t vdso_expect;   /* where the running vdso text must land */
	uint32_t nr_vdso_patches; struct rst_vdso_patch *vdso_patches;  /* proxied: written after the pages */

	struct rst_mm_map mm;
	uint64_t auxv[64];
	char comm[16];

	struct rst_sigact sigact[64];
	uint64_t rlim[16][2];
	uint64_t itimer[3][4];  /* interval sec, usec, value sec, usec */

	uint32_t creds_set;     /* 0: keep the helper's */
	uint32_t uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t secbits, nr_groups;
	uint32_t groups[64];
	uint32_t cap_inh[2], cap_prm[2], cap_eff[2], cap_bnd[2], cap_amb[2];
	uint32_t no_new_privs;
	int32_t dumpable, pdeath_sig;
	uint32_t thp_disabled;  /* PR_SET_THP_DISABLE */
	uint32_t personality_set; uint64_t personality;

	uint32_t nr_close; int32_t close_fds[RST_MAX_FDS_CLOSE];

	uint32_t nr_sigs; struct rst_siginfo *sigs;
	uint32_t nr_ptimers; struct rst_ptimer *ptimers;
	uint32_t fault_seccomp; /* test hook: fail at the seccomp step, after every other task is done */

	uint32_t nr_aios; struct rst_aio aios[RST_MAX_AIOS];

	uint32_t nr_threads;    /* including the leader (threads[0]) */
	volatile int32_t threads_done;
	struct rst_thread *threads;
};
