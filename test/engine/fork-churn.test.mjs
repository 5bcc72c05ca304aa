// A tree whose children end all the time (progs/fork-churn.c, as ZDTM's transition/fork2): a child that ends
// between being listed and being stopped is skipped and found again as its parent's zombie (as CRIU's seize),
// never a failed dump. Repeated dumps with -R all succeed, then a dump and restore: the parent goes on reaping
// every child, the restored zombies included, with its exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, eventually, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk } from './restore-lib.mjs';

const DUMPS = 25;
const ticks = (h) => h.lines().map((l) => /^tick (\d+) reaped=(\d+) bad=(\d+)/.exec(l)).filter(Boolean).map((m) => m.slice(1).map(Number));

test('children that end during the freeze: every dump succeeds, the restored parent reaps every child with its status', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('fork-churn');
  const prog = compile('fork-churn', dir);
  const h = await launch(prog);
  try {
    const img = join(dir, 'img');
    for (let i = 0; i < DUMPS; i++) {
      const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R']);
      assert.equal(r.status, 0, `dump ${i + 1} of ${DUMPS}: ${r.stderr}`);
    }
    const pids = sessionPids(h.pid);
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(r.status, 0, r.stderr);
    const before = ticks(h).length;
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => assert.ok(ticks(h).length >= before + 3, 'ticks after the restore'));
    const [, reaped, bad] = ticks(h).at(-1);
    assert.equal(bad, 0, h.lines().filter((l) => /^BAD/.test(l)).join('\n'));
    assert.ok(reaped > 0);
  } finally {
    killPids(sessionPids(h.pid));
  }
});
