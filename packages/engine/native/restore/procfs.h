/* procfs.c: paths under /proc/PID of tasks of the tree and of processes dead when dumped */
#ifndef CKPT_RESTORE_PROCFS_H
#define CKPT_RESTORE_PROCFS_H
#include <stdint.h>

#include "plan.h"

int proc_task_obj(const struct obj *o);                     /* opened by the task holding it */
void wait_forked(uint64_t x);                               /* until task x exists */
void wait_proc_task(const char *path);                      /* until the task of /proc/PID/... exists (if of the tree) */
int open_proc_task_obj(uint64_t ti, const struct obj *o);   /* in task ti, once the task it names exists */
int start_proc_pids(void);  /* controller, before the objects: the temporary processes of dead PIDs */
void end_proc_pids(void);   /* controller, once every task is prepared: killed and reaped */

#endif
