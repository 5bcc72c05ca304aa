/* The vDSO at restore: this kernel's vvar+vDSO mapped where the dump had them when the plan found the dumped
 * vDSO's functions at the same places, or else (the vDSO proxy, planned by src/restore/vdso-proxy.ts) mapped
 * in a hole, with the dumped vDSO's entry points patched into jumps to it. */
#include <stdio.h>
#include <string.h>

#include "helper.h"

static uint64_t rt_vvar_len, rt_vdso_len;  /* this kernel's, from our maps (check_vdso) */
static uint64_t rt_vvar_at;                /* where proxied tasks get them (place_vdso_proxy) */

/* the running vvar+vdso: where the dump had them, or (proxied) at rt_vvar_at with the patches' jumps aimed there */
uint8_t *vdso_blob_args(struct task *t, struct rst_args *a, uint8_t *cur)
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

/* This kernel's vvar+vdso (from our maps) against each task's plan. Mapped where the dump had them: the same
 * sizes and order (the plan compared the symbols). Proxied: the running pair goes into a hole as one piece
 * (vvar directly below the vdso text, as ARCH_MAP_VDSO_64 maps it), and every patch lies in a private anonymous
 * VMA of the task that receives pages (the dumped vdso). */
int check_vdso(void)
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
		if (t->nr_vdso_patches && (!t->vdso_proxy || !t->vdso_hint)) {
			fprintf(stderr, "Error: task %lu: vDSO patches without a vDSO proxy\n", (unsigned long)t->pid);
			return -1;
		}
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
				if (p->rel != ~0ULL && (p->code.len < 8 || p->rel > p->code.len - 8)) {
					fprintf(stderr, "Error: task %lu: vDSO proxy patch at 0x%lx: its address field lies outside its code\n", (unsigned long)t->pid, (unsigned long)p->at);
					return -1;
				}
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
int place_vdso_proxy(void)
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

