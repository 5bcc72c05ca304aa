/* Private memory shared copy-on-write between a parent and its children. A child forked by the dumped
 * program shares its parent's private pages until either writes; restored VMA by VMA by each task's blob,
 * every task would get copies of its own. As CRIU does, a private VMA that a child has too (same range,
 * flags, protection, file and offset) is mapped and filled by the parent's helper process before it forks
 * its children, in a window next to the arena; a child inherits it and writes only the pages whose dumped
 * contents differ from what it inherited (and drops those it has none of), so equal pages stay shared.
 * Each blob then moves its premapped VMAs into place with mremap, which keeps the sharing, and unmaps the
 * rest of the window (premaps of its ancestors it does not use). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helper.h"

#define MAP_TYPE_BITS 0x0f
#define MAP_GROWSDOWN_ 0x100

uint64_t premap_start, premap_len;
static uint64_t premap_align = PAGE;  /* the largest huge page size among the premapped VMAs */

/* a VMA's page size: a hugetlb one's from its flags (MAP_HUGETLB, log2 of the size at bit 26; none: the
 * default size, which is at most 1 GiB on x86-64) */
static uint64_t vma_page(const struct vma *v)
{
	uint64_t sh = (v->flags >> 26) & 0x3f;
	return !(v->flags & MAP_HUGETLB) ? PAGE : sh ? 1ULL << sh : 1ULL << 30;
}

/* a private VMA that receives pages and could have been inherited across fork (not a stack that grows) */
static int candidate(const struct vma *v)
{
	return (v->flags & MAP_TYPE_BITS) == MAP_PRIVATE && !(v->flags & MAP_GROWSDOWN_) && v->add_write;
}

/* the same mapping in two tasks: range, flags, protection and what it maps */
static int same_vma(const struct task *ta, const struct vma *a, const struct task *tb, const struct vma *b)
{
	if (a->start != b->start || a->end != b->end || a->flags != b->flags || a->prot != b->prot || a->pgoff != b->pgoff)
		return 0;
	if ((a->file == ~0ULL) != (b->file == ~0ULL))
		return 0;
	if (a->file == ~0ULL)
		return 1;
	const struct mfile *fa = &ta->files[a->file], *fb = &tb->files[b->file];
	return fa->memfd == fb->memfd && fa->obj == fb->obj && fa->oflags == fb->oflags && !strcmp(fa->path, fb->path);
}

static const struct vma *find_same(const struct task *t, const struct task *in, const struct vma *v, int premapped)
{
	for (uint64_t k = 0; k < in->nr_vmas; k++) {
		const struct vma *w = &in->vmas[k];
		if ((!premapped || w->premap) && candidate(w) && same_vma(t, v, in, w))
			return w;
	}
	return NULL;
}

/* which VMAs are premapped, and their offsets in the window (+1; made addresses by premap_place); returns
 * the window's length. Parents come before their children in the plan. */
uint64_t premap_plan(void)
{
	uint64_t len = 0;
	for (uint64_t i = 0; i < nr_tasks; i++) {
		struct task *t = &tasks[i];
		const struct task *p = t->parent != ~0ULL ? &tasks[t->parent] : NULL;
		for (uint64_t k = 0; k < t->nr_vmas; k++) {
			struct vma *v = &t->vmas[k];
			if (!candidate(v))
				continue;
			const struct vma *from = p ? find_same(t, p, v, 1) : NULL;
			if (from) {
				v->premap = from->premap;
				v->inherited = 1;
				continue;
			}
			for (uint64_t c = i + 1; c < nr_tasks; c++)
				if (tasks[c].parent == i && tasks[c].state != 2 && find_same(t, &tasks[c], v, 0)) {
					/* hugetlb memory only maps (and mremaps) at multiples of its page size */
					uint64_t al = vma_page(v);
					len = (len + al - 1) & ~(al - 1);
					if (al > premap_align)
						premap_align = al;
					v->premap = len + 1;
					len += v->end - v->start;
					break;
				}
		}
	}
	/* room to align the window's start (premap_place) */
	return len && premap_align > PAGE ? len + premap_align : len;
}

/* offsets into addresses, once the window is at `at` (aligned up for hugetlb VMAs: premap_plan left room) */
void premap_place(uint64_t at)
{
	premap_start = at;
	uint64_t base = (at + premap_align - 1) & ~(premap_align - 1);
	for (uint64_t i = 0; i < nr_tasks; i++)
		for (uint64_t k = 0; k < tasks[i].nr_vmas; k++)
			if (tasks[i].vmas[k].premap)
				tasks[i].vmas[k].premap += base - 1;
}

/* pages of [a, z) of the task's image: read into the premapped copy, or, inherited, only where they differ */
static void fill(uint64_t ti, int pfd, const struct vma *v, uint64_t a, uint64_t z, uint64_t off)
{
	struct task *t = &tasks[ti];
	uint8_t *dst = (uint8_t *)(v->premap + (a - v->start));
	if (!v->inherited) {
		if (pread(pfd, dst, z - a, (off_t)off) != (ssize_t)(z - a))
			task_fail(ti, "task %lu: pages image %s at %lu: %s", (unsigned long)t->pid, t->pages, (unsigned long)off,
				  errno ? strerror(errno) : "short read");
		return;
	}
	static uint8_t buf[64 * PAGE];
	for (uint64_t at = a; at < z;) {
		uint64_t n = z - at < sizeof(buf) ? z - at : sizeof(buf);
		if (pread(pfd, buf, n, (off_t)(off + (at - a))) != (ssize_t)n)
			task_fail(ti, "task %lu: pages image %s at %lu: %s", (unsigned long)t->pid, t->pages, (unsigned long)(off + (at - a)),
				  errno ? strerror(errno) : "short read");
		for (uint64_t q = 0; q < n; q += PAGE)
			if (memcmp(dst + (at - a) + q, buf + q, PAGE))
				memcpy(dst + (at - a) + q, buf + q, PAGE);
		at += n;
	}
}

static const uint64_t *sort_iov;
static int cmp_run(const void *x, const void *y)
{
	uint64_t a = sort_iov[3 * *(const uint64_t *)x], b = sort_iov[3 * *(const uint64_t *)y];
	return a < b ? -1 : a > b;
}

/* in task ti's process, before it forks its children: its premapped VMAs mapped (or inherited) and filled */
void premap_task(uint64_t ti)
{
	struct task *t = &tasks[ti];
	unsigned long pid = t->pid;
	int pfd = -1;
	uint64_t *order = NULL;  /* the runs by address */
	for (uint64_t k = 0; k < t->nr_vmas; k++) {
		struct vma *v = &t->vmas[k];
		if (!v->premap)
			continue;
		uint64_t len = v->end - v->start;
		if (!v->inherited) {
			int fd = v->file == ~0ULL ? -1 : open_mfile(ti, &t->files[v->file]);
			int flags = (int)v->flags | MAP_FIXED;
			if (fd >= 0)
				flags &= ~MAP_ANONYMOUS;
			void *m = mmap((void *)v->premap, len, (int)v->prot | PROT_READ | PROT_WRITE, flags, fd, (off_t)v->pgoff);
			if (fd >= 0)
				close(fd);
			if (m != (void *)v->premap)
				task_fail(ti, "task %lu: premapping VMA 0x%lx-0x%lx: %s", pid, (unsigned long)v->start, (unsigned long)v->end, strerror(errno));
		} else if (mprotect((void *)v->premap, len, (int)v->prot | PROT_READ | PROT_WRITE) < 0) {
			task_fail(ti, "task %lu: inherited VMA 0x%lx-0x%lx: mprotect: %s", pid, (unsigned long)v->start, (unsigned long)v->end, strerror(errno));
		}
		if (pfd < 0 && (pfd = open(t->pages, O_RDONLY | O_CLOEXEC)) < 0)
			task_fail(ti, "task %lu: pages image %s: %s", pid, t->pages, strerror(errno));
		if (!order) {
			order = malloc((t->nr_iovs + 1) * sizeof(*order));
			for (uint64_t r = 0; r < t->nr_iovs; r++)
				order[r] = r;
			sort_iov = t->iov;
			qsort(order, t->nr_iovs, sizeof(*order), cmp_run);
		}
		/* an inherited page the task has no run for is dropped (zero, or the file's page) */
		uint64_t at = v->start;
		for (uint64_t j = 0; j < t->nr_iovs; j++) {
			uint64_t r = order[j];
			uint64_t base = t->iov[3 * r], end = base + t->iov[3 * r + 1], off = t->iov[3 * r + 2];
			uint64_t a = base > v->start ? base : v->start, z = end < v->end ? end : v->end;
			if (a >= z)
				continue;
			if (v->inherited && a > at)
				madvise((void *)(v->premap + (at - v->start)), a - at, MADV_DONTNEED);
			fill(ti, pfd, v, a, z, off + (a - base));
			at = z;
		}
		if (v->inherited && at < v->end)
			madvise((void *)(v->premap + (at - v->start)), v->end - at, MADV_DONTNEED);
	}
	if (pfd >= 0)
		close(pfd);
	free(order);
}

/* whether the run [base, base+len) lies in premapped VMAs only (filled by premap_task: the blob skips it) */
int premap_covers(const struct task *t, uint64_t base, uint64_t len)
{
	uint64_t at = base, end = base + len;
	while (at < end) {
		const struct vma *in = NULL;
		for (uint64_t k = 0; k < t->nr_vmas && !in; k++)
			if (t->vmas[k].start <= at && at < t->vmas[k].end)
				in = &t->vmas[k];
		if (!in || !in->premap)
			return 0;
		at = in->end;
	}
	return 1;
}
