// fanotify (CRIU's fanotify00): the group's flags and its inode and mount marks, with their masks and ignore
// masks, come back as they were, and events for the marked file are delivered after the restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, eventually, launch, needPtrace, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, ticks, until } from './restore-lib.mjs';

test('fanotify: inode and mount marks (mask, ignore mask, flags) and event delivery survive dump and restore', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('fanotify-marks');
  const h = await launch(compile('fanotify-marks', dir), [dir]);
  const pids = [h.pid];
  try {
    await until(() => ticks(h.lines()).length >= 2, 5000, 'fanotify-marks ticks');
    const good = /^tick \d+ marks=same events=ok$/;
    const before = h.lines().filter((l) => l.startsWith('tick'));
    assert.ok(before.every((l) => good.test(l)), before.join('\n'));
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    const n = h.lines().length;
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => {
      const after = h.lines().slice(n).filter((l) => l.startsWith('tick'));
      assert.ok(after.length >= 3, `goes on after the restore: ${after.join('|')}`);
      assert.ok(after.every((l) => good.test(l)), after.join('\n'));
    });
  } finally {
    killPids(pids);
  }
});
