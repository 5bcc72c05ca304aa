/* The restore plan as the helper holds it: its structs, globals and reader are generated from
 * packages/engine/plan/schema.mjs into build/restore/plan-wire.{h,c}; read_plan (plan-read.c) reads the file. */
#ifndef CKPT_RESTORE_PLAN_H
#define CKPT_RESTORE_PLAN_H
#include "plan-wire.h"

#define FRAME_AREA 0x2000ULL  /* a thread's sigframe area in the region: no frame of the plan is longer */

void read_plan(const char *path);

#endif
