/* The restore helper's shared declarations: the controller's state (region, arena, fd base), logging, how
 * a task fails, and what the modules export to each other. See main.c for the order of a restore. */
#ifndef CKPT_RESTORE_HELPER_H
#define CKPT_RESTORE_HELPER_H
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"
#include "restore-args.h"

#define TASK_SIZE 0x7ffffffff000ULL
#define PAGE 4096ULL
#define PALIGN(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define THREAD_STACK 0x10000ULL

/* helper.c */
extern int verbosity;
void info(const char *fmt, ...);
extern struct rst_arena *arena;
extern uint64_t region, region_len, arena_len;  /* blob region (blob, args, stacks, frames), then the arena */
extern int fd_base;                             /* objects live at fds >= fd_base in the controller */
void task_fail(uint64_t i, const char *fmt, ...) __attribute__((noreturn));
long futex_wait(volatile int32_t *addr, int32_t val, long ms);
void futex_wake(volatile int32_t *addr);
int move_high(int fd);

/* pids.c */
pid_t clone_with_pid(pid_t pid, uint64_t flags); /* CLONE_PARENT: a sibling, our parent's child */
pid_t clone_quiet_with_pid(pid_t pid);            /* exit signal 0: wait for it with __WALL */
void pid_owner(pid_t pid, char *out, size_t n);
int pid_taken(pid_t pid);
int pid_taken_wait(pid_t pid);

/* region.c */
uint64_t blob_size(void);
int map_region(void);

/* vdso.c */
int check_vdso(void);        /* this kernel's vDSO against each task's plan */
int place_vdso_proxy(void);  /* after map_region: a hole for this kernel's vDSO, for proxied tasks */
uint8_t *vdso_blob_args(struct task *t, struct rst_args *a, uint8_t *cur);
uint64_t find_hole(uint64_t need);  /* region.c */

/* kinds/kinds.c */
int create_objects(void);
/* kinds/reg.c: once every task has its cwd and root, ghost directories go; once the tree is restored (before
 * it runs), link remaps */
void remove_ghost_dirs(void);
void remove_link_remaps(void);

/* tasks.c */
void task_main(uint64_t ti) __attribute__((noreturn));
int open_mfile(uint64_t ti, const struct mfile *m);

/* premap.c: private memory shared copy-on-write with children, mapped before they are forked */
extern uint64_t premap_start, premap_len;  /* the window, after the arena */
uint64_t premap_plan(void);
void premap_place(uint64_t at);
void premap_task(uint64_t ti);
int premap_covers(const struct task *t, uint64_t base, uint64_t len);

void join_cgroups(uint64_t ti); /* cgroups.c */
int enter_tree_netns(void); /* netns.c: the controller, before the objects */
void leave_tree_netns(void); /* netns.c: a child of the controller that runs a script */

/* caller.c: the pidfile, action scripts and status fd ckpt's caller asked for */
int write_pidfile(pid_t root);
void remove_pidfile(void);
int run_scripts(const char *hook, pid_t root);
void write_status_fd(void);

/* netlock.c: the dump's network lock dropped (CKPT_NET_UNLOCK), then repaired TCP sockets leave repair mode */
int net_unlock_and_resume(void);

/* main.c: CKPT_FAULT names this step of the restore (the steps: ckpt's src/fault.ts); a test hook */
int fault_at(const char *step);

/* tracer.c */
int finish_tree(void);   /* tracer.c: the whole tree out of the restorer, or -1 */
int report_failure(void); /* main.c: the failures tasks reported in the arena; 0 if none */

#endif
