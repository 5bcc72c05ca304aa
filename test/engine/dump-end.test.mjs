// The end of a dump: the tree is killed and the dump returns once every task is dead, whoever reaps them.
// Under a subreaper that reaps nothing until told, the dumped tasks are still zombies when `ckpt dump` has
// returned: it waited for their deaths (reported to it, their tracer), not for their reaping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { killPids, stat, threadsOf, until } from './restore-lib.mjs';

test('dump of a tree orphaned under a slow reaper ends when the tree is dead, before it is reaped', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('dump-end');
  const h = await launch(compile('slow-reaper', dir));
  const reaper = Number(/REAPER pid=(\d+)/.exec(readFileSync(h.log, 'utf8'))[1]);
  const child = Number(/READY pid=\d+ child=(\d+)/.exec(readFileSync(h.log, 'utf8'))[1]);
  try {
    const tree = [h.pid, child];
    const threads = tree.reduce((n, p) => n + threadsOf(p), 0);
    assert.equal(threads, 6, 'two processes of three threads');
    const img = join(dir, 'img');
    const t0 = process.hrtime.bigint();
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(r.status, 0, r.stderr);
    t.diagnostic(`ckpt dump of ${tree.length} processes, ${threads} threads under a slow reaper: ${ms.toFixed(0)} ms`);
    // every thread's death was seen by the dump itself ...
    const log = readFileSync(join(img, 'dump.log'), 'utf8');
    assert.match(log, new RegExp(`Killed 2 task\\(s\\): ${threads} of ${threads} traced thread\\(s\\) dead`), log.split('\n').slice(-5).join('\n'));
    assert.doesNotMatch(log, /not dead/);
    // ... and nobody has reaped them yet: both are zombies of the subreaper (the child orphaned to it)
    for (const p of tree) assert.deepEqual([stat(p).state, stat(p).ppid], ['Z', reaper], `task ${p} after the dump`);
    process.kill(reaper, 'SIGUSR1');
    await until(() => /^reaped 2$/m.test(readFileSync(h.log, 'utf8')), 5000, 'the subreaper to reap both');
  } finally {
    killPids([...sessionPids(h.pid), ...sessionPids(reaper)]);
  }
});
