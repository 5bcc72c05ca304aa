// ckpt dump of live programs (the corpus' sources), checked against what CRIU 4.2 wrote for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, CORPUS, eventually, kill, launch, needPtrace, pythonCritFailures, sessionPids, workDir } from './helpers.mjs';
import { assertSameStructure } from './compare.mjs';

const CASES = [
  { name: 'loop-static', flags: ['-static'] },
  { name: 'loop-dynamic' },
  { name: 'threads' },
  { name: 'tree-pipes' },
  { name: 'unix-sockets', args: (dir) => [dir] },
  { name: 'files', args: (dir) => [dir] },
  { name: 'misc-fds', args: (dir) => [dir] },
  { name: 'proc-state' },
  { name: 'fifo-locks', args: (dir) => [dir], dumpArgs: ['--file-locks'] },
];

for (const c of CASES) {
  test(`dump ${c.name}: same images as CRIU 4.2, program gone afterwards`, async (t) => {
    if (!needPtrace(t)) return;
    const dir = workDir(c.name);
    const prog = compile(c.name, dir, c.flags ?? []);
    const h = await launch(prog, c.args ? c.args(dir) : []);
    try {
      const pids = sessionPids(h.pid);
      const img = join(dir, 'img');
      const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log', ...(c.dumpArgs ?? [])]);
      assert.equal(r.status, 0, r.stderr);
      // the dump returns once the tree is dead (its reaper may collect it later)
      assert.deepEqual(pids.filter(alive), [], 'the dumped program must be gone without --leave-running');

      const ref = join(CORPUS, c.name);
      if (existsSync(ref) || process.env.CI) { // the corpus is required under CI
        await assertSameStructure(img, ref);
      }
      const bad = pythonCritFailures(img);
      if (bad) assert.deepEqual(bad, [], 'Debian crit must decode every image');
    } finally {
      kill(h);
    }
  });
}

test('dump --leave-running: the program goes on unchanged', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('leave-running');
  const prog = compile('loop-dynamic', dir);
  const h = await launch(prog);
  try {
    const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img'), '--leave-running']);
    assert.equal(r.status, 0, r.stderr);
    const before = h.lines().length;
    await eventually(() => {
      assert.ok(alive(h.pid));
      const lines = h.lines();
      assert.ok(lines.length >= before + 2, 'keeps ticking');
      assert.ok(!lines.some((l) => /BAD|mismatch|corrupt/i.test(l)), lines.slice(-3).join('\n'));
      const ticks = lines.filter((l) => l.startsWith('tick')).map((l) => Number(/tick (\d+)/.exec(l)[1]));
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1] + 1, 'tick sequence is unbroken');
    });
  } finally {
    kill(h);
  }
});

test('dump --leave-running of a tree with threads and pipes keeps all tasks running', async (t) => {
  if (!needPtrace(t)) return;
  for (const name of ['threads', 'tree-pipes']) {
    const dir = workDir(`leave-${name}`);
    const h = await launch(compile(name, dir));
    try {
      const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, `img-${name}`), '-R']);
      assert.equal(r.status, 0, r.stderr);
      const before = h.lines().length;
      await eventually(() => {
        assert.ok(alive(h.pid));
        assert.ok(h.lines().length > before, `${name} keeps logging`);
      });
    } finally {
      kill(h);
    }
  }
});
