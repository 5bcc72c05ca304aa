/* The region every task's restorer runs from (blob, its arguments, thread stacks and frames) and the shared
 * arena after it: at the lowest address free in the helper's layout and every dumped one */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/userfaultfd.h>

#include "helper.h"
/* the blob's own copies of the userfaultfd constants (it includes no system headers) */
_Static_assert(RST_UFFDIO_API == UFFDIO_API && RST_UFFDIO_REGISTER == UFFDIO_REGISTER && RST_UFFDIO_UNREGISTER == UFFDIO_UNREGISTER &&
	       RST_UFFDIO_COPY == UFFDIO_COPY && RST_UFFD_API == UFFD_API, "userfaultfd constants");
#include "restore-blob.h" /* generated: restore_blob[], restore_blob_len */

struct range { uint64_t s, e; };

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* lowest gap >= 0x10000 of `need` bytes free in our layout and every task's */
uint64_t find_hole(uint64_t need)
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

uint64_t blob_size(void) { return PALIGN(restore_blob_len); }

static uint64_t task_need(struct task *t)
{
	uint64_t n = blob_size() + PALIGN(sizeof(struct rst_args));
	n += PALIGN(t->nr_vmas * sizeof(struct rst_vma));
	n += PALIGN(t->nr_iovs * sizeof(struct rst_iov));
	n += PALIGN(t->nr_iovs * 8);
	n += PALIGN(t->nr_guards * 16);
	n += PALIGN(t->nr_threads * sizeof(struct rst_thread));
	n += t->nr_threads * (THREAD_STACK + FRAME_AREA);
	n += THREAD_STACK; /* the blob's own stack */
	n += PALIGN(t->nr_sigs * sizeof(struct rst_siginfo));
	n += PALIGN(t->nr_ptimers * sizeof(struct rst_ptimer));
	n += PALIGN(t->nr_vdso_patches * sizeof(struct rst_vdso_patch));
	for (uint64_t j = 0; j < t->nr_threads; j++) {
		n += PALIGN(t->thr[j].nr_seccomp * sizeof(struct rst_seccomp));
		for (uint64_t k = 0; k < t->thr[j].nr_seccomp; k++)
			n += PALIGN(t->thr[j].sc_insns[k].len);
	}
	return n;
}

/* the region (blob, args, stacks, frames), sized for the largest task, and the arena after it, at one
 * address free for everyone; the blob copied in */
int map_region(void)
{
	region_len = 0;
	for (uint64_t i = 0; i < nr_tasks; i++) {
		uint64_t n = task_need(&tasks[i]);
		if (n > region_len)
			region_len = n;
	}
	region_len = PALIGN(region_len);
	arena_len = PALIGN(sizeof(struct rst_arena) + nr_tasks * sizeof(struct rst_status));
	premap_len = premap_plan();
	region = find_hole(region_len + arena_len + premap_len);
	if (!region) {
		fprintf(stderr, "Error: no address range is free in both the helper's and the dumped layouts\n");
		return -1;
	}
	void *m = mmap((void *)region, region_len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	void *s = mmap((void *)(region + region_len), arena_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	/* the premap window: reserved here, its VMAs mapped over it by the tasks (premap.c) */
	void *w = premap_len ? mmap((void *)(region + region_len + arena_len), premap_len, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) : NULL;
	if (m != (void *)region || s != (void *)(region + region_len) || (premap_len && w != (void *)(region + region_len + arena_len))) {
		fprintf(stderr, "Error: cannot map the restorer at 0x%lx: %s\n", (unsigned long)region, strerror(errno));
		return -1;
	}
	if (premap_len)
		premap_place(region + region_len + arena_len);
	memcpy((void *)region, restore_blob, restore_blob_len);
	arena = s;
	arena->nr_tasks = (int32_t)nr_tasks;
	info("restorer at 0x%lx (%lu KiB), arena at 0x%lx, %lu KiB premapped", (unsigned long)region, (unsigned long)(region_len >> 10),
	     (unsigned long)(region + region_len), (unsigned long)(premap_len >> 10));
	return 0;
}
