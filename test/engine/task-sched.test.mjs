// Per-thread and per-process state the restore puts back with the task's own hands (CRIU's restorer does the
// same): scheduling, seccomp (filters per thread, strict mode), process groups whose leader is gone, the audit
// login uid, and SIGEV_THREAD timers (glibc's timer signal reaching a thread of the restorer). Each progs/task-*.c
// checks its own state every tick ("tick N ok" / "tick N BAD why"): dumped, restored, it must go on ok.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, eventually, kill, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, restoreOk } from './restore-lib.mjs';
import { decodeAll } from './compare.mjs';

const isOk = (l) => /^tick \d+ ok/.test(l);

/** launch progs/NAME.c, let it tick ok, dump it (killed), restore it and see it tick ok again, twice (the
 * restored tree dumped again); returns the first images */
async function restoredOk(t, name) {
  if (!needPtrace(t)) return undefined;
  const dir = workDir(name);
  const h = await launch(compile(name, dir), []);
  try {
    await eventually(() => assert.ok(h.lines().filter(isOk).length >= 2, h.lines().slice(-3).join('\n')));
    const pids = sessionPids(h.pid);
    let first;
    for (const round of [1, 2]) {
      const img = join(dir, `img${round}`);
      const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
      assert.equal(r.status, 0, r.stderr);
      await dumpedPidsFree(pids);
      const n = h.lines().length;
      assert.equal(restoreOk(img), h.pid);
      await eventually(() => {
        const after = h.lines().slice(n);
        assert.ok(after.filter(isOk).length >= 3, `after restore ${round}: ${after.slice(-3).join(' | ')}`);
      });
      assert.deepEqual(h.lines().filter((l) => /BAD/.test(l)), []);
      assert.deepEqual(sessionPids(h.pid).sort(), pids.sort(), 'the same tasks');
      first ??= await decodeAll(img);
    }
    return first;
  } finally {
    kill(h);
  }
}

const cores = (imgs) => Object.entries(imgs).filter(([k]) => /^core-\d+\.img$/.test(k)).map(([, v]) => v.entries[0]);

test('a SIGEV_THREAD timer goes on: its signal, pending at the dump, does not reach a thread in the restorer (zdtm pthread_timers)', async (t) => {
  const imgs = await restoredOk(t, 'task-sigev-thread');
  if (!imgs) return;
  const [leader] = cores(imgs).filter((c) => c.tc);
  assert.equal(leader.tc.timers.posix.length, 1);
});

test('scheduling policy, priority and nice of each thread and process, SCHED_RESET_ON_FORK kept (zdtm sched_policy00)', async (t) => {
  const imgs = await restoredOk(t, 'task-sched');
  if (!imgs) return;
  const policies = cores(imgs).map((c) => c.thread_core.sched_policy).sort((a, b) => a - b);
  assert.deepEqual(policies, [1, 3, 5, 0x40000001, 0x40000002]);
});

test('seccomp per thread: different filter chains, strict mode in a thread and a process (zdtm seccomp_filter_threads, seccomp_strict)', async (t) => {
  const imgs = await restoredOk(t, 'task-seccomp-mixed');
  if (!imgs) return;
  const modes = cores(imgs).map((c) => c.thread_core.seccomp_mode ?? 'disabled').sort();
  assert.deepEqual(modes, ['disabled', 'filter', 'filter', 'strict', 'strict']);
});

test('process groups whose leader is gone: a live member and a zombie keep them (zdtm zombie01)', async (t) => {
  await restoredOk(t, 'task-pgrp-gone');
});

test('the audit login uid of each process (zdtm loginuid)', async (t) => {
  if (!existsSync('/proc/self/loginuid')) {
    if (process.env.CI) assert.fail('this kernel has no /proc/self/loginuid (CONFIG_AUDIT)');
    t.skip('this kernel has no /proc/self/loginuid (CONFIG_AUDIT)');
    return;
  }
  const imgs = await restoredOk(t, 'task-loginuid');
  if (!imgs) return;
  assert.deepEqual(cores(imgs).map((c) => c.tc.loginuid).sort(), [4242, 4343]);
});
