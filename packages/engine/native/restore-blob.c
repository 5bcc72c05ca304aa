/* The restorer blob: freestanding, position-independent, raw syscalls only. The restore helper copies
 * it into a region free in both its own and the target's layout and jumps to restore_task(args) with
 * the stack inside that region. From here on nothing of the helper may be touched: the blob unmaps
 * it, maps the dumped memory, puts the mm fields, vDSO, signal actions, TLS, rseq, creds and threads
 * back and rt_sigreturns into the dumped registers. Errors are reported into the shared arena, then
 * the task exits. */
#include "restore-args.h"

#define __NR_read 0
#define __NR_close 3
#define __NR_mmap 9
#define __NR_mprotect 10
#define __NR_munmap 11
#define __NR_rt_sigaction 13
#define __NR_rt_sigprocmask 14
#define __NR_rt_sigreturn 15
#define __NR_preadv 295
#define __NR_madvise 28
#define __NR_mremap 25
#define __NR_setitimer 38
#define __NR_getpid 39
#define __NR_exit 60
#define __NR_setresuid 117
#define __NR_setresgid 119
#define __NR_setgroups 116
#define __NR_setfsuid 122
#define __NR_setfsgid 123
#define __NR_capset 126
#define __NR_personality 135
#define __NR_prctl 157
#define __NR_arch_prctl 158
#define __NR_gettid 186
#define __NR_futex 202
#define __NR_set_tid_address 218
#define __NR_exit_group 231
#define __NR_set_robust_list 273
#define __NR_prlimit64 302
#define __NR_rseq 334
#define __NR_clone3 435
#define __NR_rt_sigqueueinfo 129
#define __NR_rt_tgsigqueueinfo 297
#define __NR_seccomp 317
#define __NR_timer_create 222
#define __NR_userfaultfd 323
#define __NR_kill 62
#define __NR_ioctl 16
#define __NR_timer_settime 223
#define __NR_setpriority 141
#define __NR_sched_setscheduler 144

#define PROT_WRITE 2
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_MAP_VDSO_64 0x2003
#define PR_SET_PDEATHSIG 1
#define PR_SET_DUMPABLE 4
#define PR_SET_NAME 15
#define PR_SET_SECUREBITS 28
#define PR_SET_MM 35
#define PR_SET_MM_MAP 14
#define PR_SET_THP_DISABLE 41
#define PR_SET_NO_NEW_PRIVS 38
#define PR_CAPBSET_DROP 24
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define SA_RESTORER 0x04000000

typedef unsigned long ulong;

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 asm("r10") = d;
	register long r8 asm("r8") = e;
	register long r9 asm("r9") = f;
	asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return ret;
}
#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static void bzero_(void *p, ulong n) { volatile char *c = p; while (n--) *c++ = 0; }

__attribute__((noreturn)) static void fail(struct rst_args *a, int step, long err, uint64_t detail)
{
	struct rst_status *st = a->status;
	st->step = step;
	st->err = (int32_t)err;
	st->detail = detail;
	st->stage = RST_STAGE_FAILED;
	__atomic_fetch_add(&a->arena->nr_failed, 1, __ATOMIC_SEQ_CST);
	sys6(__NR_futex, (long)&a->arena->nr_failed, FUTEX_WAKE, 1 << 30, 0, 0, 0);
	for (;;)
		sys1(__NR_exit_group, 70);
}

#include "restore/aio-blob.h"

__attribute__((noreturn)) static void sigreturn_to(uint64_t frame)
{
	asm volatile("mov %0, %%rsp\n\t"
		     "mov $15, %%eax\n\t"
		     "syscall\n\t"
		     "ud2" : : "r"(frame + 8) : "memory");
	__builtin_unreachable();
}

/* thread-local state every thread puts back for itself */
static void thread_state(struct rst_args *a, struct rst_thread *t)
{
	long r;
	sys1(__NR_set_tid_address, t->clear_tid);
	if (t->robust)
		sys2(__NR_set_robust_list, t->robust, t->robust_len);
	if ((r = sys2(__NR_arch_prctl, ARCH_SET_FS, t->fs_base)) < 0)
		fail(a, RST_STEP_TLS, r, t->tid);
	if (t->gs_base)
		sys2(__NR_arch_prctl, ARCH_SET_GS, t->gs_base);
	if (t->comm[0])
		sys2(__NR_prctl, PR_SET_NAME, (long)t->comm);
	if (t->rseq_ptr && (r = sys4(__NR_rseq, t->rseq_ptr, t->rseq_size, 0, t->rseq_sig)) < 0)
		fail(a, RST_STEP_RSEQ, r, t->tid);
	/* scheduling is per thread, and a policy with SCHED_RESET_ON_FORK is not inherited by the threads cloned here */
	if ((r = sys3(__NR_setpriority, 0 /* PRIO_PROCESS */, 0, t->nice)) < 0)
		fail(a, RST_STEP_SCHED, r, t->tid);
	int32_t prio = t->prio;
	if ((r = sys3(__NR_sched_setscheduler, 0, t->policy, (long)&prio)) < 0)
		fail(a, RST_STEP_SCHED, r, t->tid);
}

/* the thread's seccomp, its very last step before rt_sigreturn (it runs under ptrace with seccomp suspended,
 * see wait_resume): strict mode (which leaves rt_sigreturn), or its filter chain */
static void thread_seccomp(struct rst_args *a, struct rst_thread *t)
{
	long r;
	if (t->seccomp_strict && (r = sys5(__NR_prctl, 22 /* PR_SET_SECCOMP */, 1 /* SECCOMP_MODE_STRICT */, 0, 0, 0)) < 0)
		fail(a, RST_STEP_SECCOMP, r, t->tid);
	for (uint32_t i = 0; i < t->nr_seccomp; i++) {
		struct rst_seccomp *f = &t->seccomp[i];
		if ((r = sys3(__NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, f->flags, (long)f)) < 0)
			fail(a, RST_STEP_SECCOMP, r, t->tid);
	}
}

/* credentials of the calling thread: groups, ids, securebits, bounding set, capabilities, ambient ones, no_new_privs */
static void restore_creds(struct rst_args *a)
{
	long r;
	if (a->creds_set) {
		struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };
		struct { uint32_t eff, prm, inh; } data[2] = {
			{ a->cap_eff[0], a->cap_prm[0], a->cap_inh[0] }, { a->cap_eff[1], a->cap_prm[1], a->cap_inh[1] } };
		sys2(__NR_setgroups, a->nr_groups, (long)a->groups);
		sys2(__NR_prctl, PR_SET_SECUREBITS, 0x4 /* SECBIT_NO_SETUID_FIXUP: keep caps across setresuid */);
		if ((r = sys3(__NR_setresgid, a->gid, a->egid, a->sgid)) < 0)
			fail(a, RST_STEP_CREDS, r, 1);
		sys1(__NR_setfsgid, a->fsgid);
		if ((r = sys3(__NR_setresuid, a->uid, a->euid, a->suid)) < 0)
			fail(a, RST_STEP_CREDS, r, 2);
		sys1(__NR_setfsuid, a->fsuid);
		sys2(__NR_prctl, PR_SET_SECUREBITS, a->secbits);
		for (int c = 0; c < 64; c++) {
			uint32_t w = a->cap_bnd[c / 32];
			if (!(w & (1u << (c % 32))))
				sys2(__NR_prctl, PR_CAPBSET_DROP, c);
		}
		if ((r = sys2(__NR_capset, (long)&hdr, (long)data)) < 0)
			fail(a, RST_STEP_CREDS, r, 3);
		/* ambient: each one permitted and inheritable by now */
		for (int c = 0; c < 64; c++)
			if (a->cap_amb[c / 32] & (1u << (c % 32)) && (r = sys5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0)) < 0)
				fail(a, RST_STEP_CREDS, r, 0x100 + c);
		if (a->no_new_privs)
			sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	}
}

/* No thread of the tree runs its own code before every task is restored: each waits here until the
 * controller, holding every thread of the tree under ptrace, lets them go. */
static void wait_resume(struct rst_args *a)
{
	volatile int32_t *resume = &a->arena->resume;
	while (!__atomic_load_n(resume, __ATOMIC_SEQ_CST))
		sys6(__NR_futex, (long)resume, FUTEX_WAIT, 0, 0, 0, 0);
	if (*resume < 0)
		for (;;)
			sys1(__NR_exit_group, 70);
}

__attribute__((noreturn, used, noipa)) static void restore_thread(struct rst_args *a, struct rst_thread *t)
{
	thread_state(a, t);
	restore_creds(a);
	__atomic_fetch_add(&a->threads_done, 1, __ATOMIC_SEQ_CST);
	sys6(__NR_futex, (long)&a->threads_done, FUTEX_WAKE, 1, 0, 0, 0);
	wait_resume(a);
	thread_seccomp(a, t);
	sigreturn_to(t->frame);
}

struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* clone3 a thread with its dumped tid; the child starts on its own stack in restore_thread(a, t) */
static long clone_thread(struct rst_args *a, struct rst_thread *t, uint64_t stack_lo, uint64_t stack_size)
{
	struct clone_args_ ca;
	uint64_t tid = t->tid;
	bzero_(&ca, sizeof(ca));
	ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	ca.stack = stack_lo;
	ca.stack_size = stack_size;
	ca.set_tid = (uint64_t)&tid;
	ca.set_tid_size = 1;
	long ret;
	register long r12 asm("r12") = (long)a;
	register long r13 asm("r13") = (long)t;
	asm volatile("syscall\n\t"
		     "test %%rax, %%rax\n\t"
		     "jnz 1f\n\t"
		     "mov %%r12, %%rdi\n\t"
		     "mov %%r13, %%rsi\n\t"
		     "and $-16, %%rsp\n\t"
		     "call restore_thread\n\t"
		     "ud2\n"
		     "1:"
		     : "=a"(ret)
		     : "a"(__NR_clone3), "D"(&ca), "S"(sizeof(ca)), "r"(r12), "r"(r13)
		     : "rcx", "r11", "memory", "rdx");
	return ret;
}

/* offset 0: entry; offset 8: "syscall; int3", where the helper (as tracer) runs munmap(region) once every
 * thread has returned into its own code */
asm(".section .text.entry,\"ax\",@progbits\n"
    "blob_entry:\n\tjmp restore_task\n"
    "\t.balign 8\n"
    "blob_syscall:\n\tsyscall\n\tint3\n"
    ".previous\n");

__attribute__((noreturn, used, noipa)) void restore_task(struct rst_args *a)
{
	long r;
	uint32_t i;

	/* 1. everything outside the region and the arena goes: the helper, its vdso, its stack */
	if ((r = sys2(__NR_munmap, 0, a->keep_start)) < 0)
		fail(a, RST_STEP_UNMAP, r, 0);
	if ((r = sys2(__NR_munmap, a->keep_end, a->task_size - a->keep_end)) < 0)
		fail(a, RST_STEP_UNMAP, r, a->keep_end);

	/* 2. the kernel's vdso/vvar where the dumped task had them (or, proxied, where the helper found room) */
	if (a->vdso_hint) {
		r = sys2(__NR_arch_prctl, ARCH_MAP_VDSO_64, a->vdso_hint);
		if (r < 0)
			fail(a, RST_STEP_VDSO, r, a->vdso_hint);
		/* the vdso text must start at vdso_expect: check its ELF magic is readable there */
		if (*(volatile uint32_t *)a->vdso_expect != 0x464c457f)
			fail(a, RST_STEP_VDSO_PLACE, -22, a->vdso_expect);
	}

	/* 3. every VMA at its address: premapped ones (filled by the helper, shared copy-on-write with the parent
	 * or the children) moved there, which keeps the sharing; then the rest of the premap window goes */
	for (i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		if (v->premap) {
			r = sys5(__NR_mremap, v->premap, v->end - v->start, v->end - v->start, 3 /* MREMAP_MAYMOVE|MREMAP_FIXED */, v->start);
			if (r < 0 || (uint64_t)r != v->start)
				fail(a, RST_STEP_MMAP, r < 0 ? r : -14, v->start);
			continue;
		}
		uint32_t prot = v->prot | (v->add_write ? PROT_WRITE : 0);
		uint32_t flags = v->flags | MAP_FIXED;
		if (v->fd >= 0)
			flags &= ~MAP_ANONYMOUS;
		r = sys6(__NR_mmap, v->start, v->end - v->start, prot, flags, v->fd, v->pgoff);
		if (r < 0 || (uint64_t)r != v->start)
			fail(a, RST_STEP_MMAP, r < 0 ? r : -14, v->start);
	}
	if (a->premap_len && (r = sys2(__NR_munmap, a->premap_start, a->premap_len)) < 0)
		fail(a, RST_STEP_UNMAP, r, a->premap_start);

	/* 4a. anonymous private VMAs: UFFDIO_COPY from a read-only mapping of the pages image, so each page is
	 * allocated and filled in one step (no zeroing, then copying); runs it covers are marked done (top bit of
	 * their offset). Without userfaultfd, or for file-backed VMAs, 4b below does it all. */
	if (a->pages_size) {
		long uffd = sys1(__NR_userfaultfd, 02000000 /* O_CLOEXEC */);
		long src = -1;
		if (uffd >= 0) {
			struct { uint64_t api, features, ioctls; } api = { RST_UFFD_API, 0, 0 };
			if (sys3(__NR_ioctl, uffd, RST_UFFDIO_API, (long)&api) < 0)
				src = -1;
			else
				src = sys6(__NR_mmap, 0, (a->pages_size + 4095) & ~4095UL, 1 /* PROT_READ */, 2 /* MAP_PRIVATE */, a->pages_fd, 0);
		}
		if (uffd >= 0 && src > 0 && (uint64_t)src < (uint64_t)-4096L) {
			for (i = 0; i < a->nr_vmas; i++) {
				struct rst_vma *v = &a->vmas[i];
				/* MAP_LOCKED memory is populated by mmap: nothing is missing there; hugetlb memory takes
				 * UFFDIO_COPY only in whole huge pages: 4b reads it */
				if (v->fd >= 0 || !v->add_write || v->premap || (v->flags & (0x2000 /* MAP_LOCKED */ | 0x40000 /* MAP_HUGETLB */)))
					continue;
				uint32_t k, any = 0;
				for (k = 0; k < a->nr_iovs && !any; k++)
					any = a->iovs[k].base >= v->start && a->iovs[k].base + a->iovs[k].len <= v->end;
				if (!any)
					continue;
				struct { uint64_t start, len, mode, ioctls; } reg = { v->start, v->end - v->start, 1 /* MISSING */, 0 };
				if (sys3(__NR_ioctl, uffd, RST_UFFDIO_REGISTER, (long)&reg) < 0)
					continue;
				for (k = 0; k < a->nr_iovs; k++) {
					struct rst_iov *io = &a->iovs[k];
					/* only runs inside this VMA (UFFDIO_COPY stops at its end); the rest go by preadv */
					if (io->base < v->start || io->base + io->len > v->end || (a->iov_off[k] >> 63))
						continue;
					uint64_t done = 0;
					while (done < io->len) {
						struct { uint64_t dst, src, len, mode; int64_t copy; } c =
							{ io->base + done, (uint64_t)src + a->iov_off[k] + done, io->len - done, 0, 0 };
						r = sys3(__NR_ioctl, uffd, RST_UFFDIO_COPY, (long)&c);
						if (c.copy > 0)
							done += (uint64_t)c.copy;
						else if (r == -17 /* EEXIST: a page is there already */)
							break;
						else if (r < 0 && r != -11 /* EAGAIN */)
							fail(a, RST_STEP_PAGES, r, io->base + done);
					}
					if (done == io->len)  /* else 4b reads the whole run */
						a->iov_off[k] |= 1UL << 63;
				}
				struct { uint64_t start, len; } rg = { v->start, v->end - v->start };
				sys3(__NR_ioctl, uffd, RST_UFFDIO_UNREGISTER, (long)&rg);
			}
		}
		if (src > 0 && (uint64_t)src < (uint64_t)-4096L)
			sys2(__NR_munmap, src, (a->pages_size + 4095) & ~4095UL);
		if (uffd >= 0)
			sys1(__NR_close, uffd);
	}

	/* 4b. contents. Fault the target pages in first, a range at a time (MADV_POPULATE_WRITE, 5.14+; one call
	 * instead of a fault per page inside preadv), then runs with consecutive file offsets are read by one preadv */
	{
		uint64_t lo = 0, hi = 0;
		for (i = 0; i <= a->nr_iovs; i++) {
			if (i < a->nr_iovs && (a->iov_off[i] >> 63))
				continue;
			if (i < a->nr_iovs && a->iovs[i].base == hi) {
				hi += a->iovs[i].len;
				continue;
			}
			if (hi > lo)
				sys3(__NR_madvise, lo, hi - lo, 23 /* MADV_POPULATE_WRITE; failure only costs speed */);
			if (i < a->nr_iovs) {
				lo = a->iovs[i].base;
				hi = lo + a->iovs[i].len;
			}
		}
	}
	{
		uint32_t done = 0;
		while (done < a->nr_iovs) {
			if (a->iov_off[done] >> 63) {  /* copied in 4a */
				done++;
				continue;
			}
			uint64_t off = a->iov_off[done], want = a->iovs[done].len;
			uint32_t n = 1;
			while (done + n < a->nr_iovs && n < 1024 && a->iov_off[done + n] == off + want) {
				want += a->iovs[done + n].len;
				n++;
			}
			r = sys6(__NR_preadv, a->pages_fd, (long)&a->iovs[done], n, off, 0, 0);
			if (r < 0)
				fail(a, RST_STEP_PAGES, r, a->iovs[done].base);
			if ((uint64_t)r != want)
				fail(a, RST_STEP_PAGES, -5, a->iovs[done].base);
			done += n;
		}
	}

	/* 4c. vDSO proxy: the dumped vDSO's pages are back; each entry point now jumps into the running vDSO */
	for (i = 0; i < a->nr_vdso_patches; i++) {
		struct rst_vdso_patch *p = &a->vdso_patches[i];
		volatile uint8_t *d = (volatile uint8_t *)p->at;
		for (uint32_t k = 0; k < p->len; k++)
			d[k] = p->code[k];
	}

	/* 4d. AIO rings: made again and moved over their dumped pages */
	for (i = 0; i < a->nr_aios; i++)
		restore_aio_ring(a, &a->aios[i]);

	/* 5. final protections and advice */
	for (i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint32_t mapped = v->premap ? v->prot | 3 /* PROT_READ|PROT_WRITE */ : v->prot | (v->add_write ? PROT_WRITE : 0);
		if (mapped != v->prot && (r = sys3(__NR_mprotect, v->start, v->end - v->start, v->prot)) < 0)
			fail(a, RST_STEP_MPROTECT, r, v->start);
		for (int b = 0; b < 64; b++) {
			uint32_t w = b < 32 ? v->madv_lo : v->madv_hi;
			if (w & (1u << (b & 31)))
				sys3(__NR_madvise, v->start, v->end - v->start, b);
		}
	}
	/* guard pages: no pages were dumped there; installing them would drop any */
	for (i = 0; i < a->nr_guards; i++)
		if ((r = sys3(__NR_madvise, a->guards[i][0], a->guards[i][1] - a->guards[i][0], 102 /* MADV_GUARD_INSTALL */)) < 0)
			fail(a, RST_STEP_GUARD, r, a->guards[i][0]);
	for (i = 0; i < a->nr_close; i++)
		sys1(__NR_close, a->close_fds[i]);
	/* transparent huge pages as dumped, either way: the mm flag is inherited from the helper across fork */
	if ((r = sys5(__NR_prctl, PR_SET_THP_DISABLE, a->thp_disabled, 0, 0, 0)) < 0)
		fail(a, RST_STEP_THP, r, 0);

	/* 6. mm fields and exe */
	if (a->comm[0])
		sys2(__NR_prctl, PR_SET_NAME, (long)a->comm);
	a->mm.auxv = (uint64_t)a->auxv;
	if ((r = sys5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&a->mm, sizeof(a->mm), 0)) < 0)
		fail(a, RST_STEP_MM_MAP, r, 0);
	if ((int32_t)a->mm.exe_fd >= 0)
		sys1(__NR_close, a->mm.exe_fd);
	if (a->personality_set)
		sys1(__NR_personality, a->personality);

	/* 7. signal actions (all of them: the helper's would otherwise stay) */
	for (i = 1; i <= 64; i++) {
		if (i == 9 || i == 19)
			continue;
		struct rst_sigact *s = &a->sigact[i - 1];
		if ((r = sys4(__NR_rt_sigaction, i, (long)s, 0, 8)) < 0)
			fail(a, RST_STEP_SIGACTION, r, i);
	}

	/* 8. the leader's thread state, then the other threads */
	thread_state(a, &a->threads[0]);
	for (i = 1; i < a->nr_threads; i++) {
		struct rst_thread *t = &a->threads[i];
		uint64_t lo = t->stack_top - 0x10000;
		if ((r = clone_thread(a, t, lo, 0x10000)) < 0)
			fail(a, RST_STEP_THREAD, r, t->tid);
	}

	/* 9. limits (hard limits above ours fail without CAP_SYS_RESOURCE: ignored, like CRIU) */
	for (i = 0; i < 16; i++)
		sys4(__NR_prlimit64, 0, i, (long)a->rlim[i], 0);

	/* 10. creds last among the privileged steps (each thread sets its own: creds are per thread) */
	restore_creds(a);
	sys2(__NR_prctl, PR_SET_DUMPABLE, a->dumpable);
	if (a->pdeath_sig)
		sys2(__NR_prctl, PR_SET_PDEATHSIG, a->pdeath_sig);

	/* 11. itimers */
	for (i = 0; i < 3; i++) {
		uint64_t *t = a->itimer[i];
		if (!(t[0] | t[1] | t[2] | t[3]))
			continue;
		uint64_t v[4] = { t[0], t[1], t[2], t[3] };
		if (!v[2] && !v[3]) { v[2] = v[0]; v[3] = v[1]; }
		if ((r = sys3(__NR_setitimer, i, (long)v, 0)) < 0)
			fail(a, RST_STEP_ITIMER, r, i);
	}

	/* 11b. POSIX timers with their ids (after the threads: SIGEV_THREAD_ID names one) */
	if (a->nr_ptimers) {
		int ids = sys5(__NR_prctl, 77 /* PR_TIMER_CREATE_RESTORE_IDS */, 1 /* ON */, 0, 0, 0) == 0;
		for (i = 0; i < a->nr_ptimers; i++) {
			struct rst_ptimer *q = &a->ptimers[i];
			struct { uint64_t value; int32_t signo, notify, tid, pad[11]; } sev;
			bzero_(&sev, sizeof(sev));
			sev.value = q->sival; sev.signo = q->signo; sev.notify = q->notify; sev.tid = q->tid;
			int32_t id = ids ? q->id : -1;
			if ((r = sys3(__NR_timer_create, q->clock, (long)&sev, (long)&id)) < 0)
				fail(a, RST_STEP_PTIMER, r, q->id);
			if (id != q->id)
				fail(a, RST_STEP_PTIMER, -17 /* EEXIST: another id */, q->id);
			uint64_t its[4] = { q->isec, q->insec, q->vsec, q->vnsec };
			if ((q->vsec | q->vnsec) && (r = sys4(__NR_timer_settime, id, 0, (long)its, 0)) < 0)
				fail(a, RST_STEP_PTIMER, r, q->id);
		}
		if (ids)
			sys5(__NR_prctl, 77, 0 /* OFF */, 0, 0, 0);
	}

	/* 12. wait for the threads, queue the pending signals again (every signal is blocked here; the
	 * sigframes' masks decide), report, and wait until every task of the tree is as far (the controller
	 * then holds each thread under ptrace with seccomp suspended); seccomp last, then return into
	 * the dumped registers. The controller unmaps the region and the arena once every thread is out. */
	for (;;) {
		int32_t d = __atomic_load_n(&a->threads_done, __ATOMIC_SEQ_CST);
		if ((uint32_t)d >= a->nr_threads - 1)
			break;
		sys6(__NR_futex, (long)&a->threads_done, FUTEX_WAIT, d, 0, 0, 0);
	}
	long self = (long)a->threads[0].tid;
	for (i = 0; i < a->nr_sigs; i++) {
		struct rst_siginfo *q = &a->sigs[i];
		r = q->tid ? sys4(__NR_rt_tgsigqueueinfo, self, q->tid, q->signo, (long)q->info)
			   : sys3(__NR_rt_sigqueueinfo, self, q->signo, (long)q->info);
		if (r < 0)
			fail(a, RST_STEP_SIGNALS, r, q->signo);
	}
	struct rst_arena *arena = a->arena;
	a->status->stage = RST_STAGE_DONE;
	__atomic_fetch_add(&arena->nr_done, 1, __ATOMIC_SEQ_CST);
	sys6(__NR_futex, (long)&arena->nr_done, FUTEX_WAKE, 1 << 30, 0, 0, 0);
	wait_resume(a);
	if (a->fault_seccomp)  /* test hook (CKPT_FAULT=restore-last-task-late): the very last step fails */
		fail(a, RST_STEP_SECCOMP, -22, 0);
	thread_seccomp(a, &a->threads[0]);
	sigreturn_to(a->threads[0].frame);
}
