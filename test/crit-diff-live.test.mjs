// crit diff on dumps made here: the counter program dumped twice a second apart,
// then after it opened a socket, then after its child was killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CRIT } from './lib/corpus.mjs';
import { dump, liveOrSkip, sleep, startCounter, stop, workDir } from './lib/crit-live.mjs';
import { run } from './lib/run.mjs';

const crit = (...args) => run(CRIT, args, { env: { NO_COLOR: '1' } });
const json = (r) => JSON.parse(r.stdout.toString());

test('crit diff of live dumps: counters and pages, a new socket, a killed child', async (t) => {
  if (!liveOrSkip(t)) return;
  const dir = workDir('crit-diff-live');
  let h;
  try {
    h = await startCounter(dir, 'diff');
    const d1 = dump(h.pid, join(dir, 'd1'));
    await sleep(1000);
    const d2 = dump(h.pid, join(dir, 'd2'));

    await t.test('a dump against itself: exit 0 and says so', async () => {
      const r = await crit('diff', d1, d1);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), /no differences/);
    });

    await t.test('a second apart: only the expected pages and the output position', async () => {
      const r = await crit('diff', d1, d2, '--ignore', 'pids', '--ignore', 'stats', '--json');
      assert.equal(r.code, 1, r.stderr);
      const d = json(r);
      assert.deepEqual(Object.keys(d.summary.bySection).sort(), ['fds', 'pages']);
      // the only fd changes: stdout and stderr (out.log, shared with the child) moved on (and the file grew)
      const fdChanges = d.changes.filter((c) => c.section === 'fds');
      for (const c of fdChanges) {
        assert.match(c.path, new RegExp(`^tasks\\[(${h.pid}|${h.child})\\]\\.fds\\[[12]\\]\\.(pos|size)$`));
        assert.ok(c.b > c.a, `${c.path} grows`);
      }
      assert.ok(fdChanges.some((c) => c.path === `tasks[${h.pid}].fds[1].pos`), 'the position of stdout changed');
      // pages: the parent's memory changed, the counter's page among them; the child sleeps in pause(),
      // where the first dump's interruption may have set errno (one page of its thread area)
      const pages = d.changes.filter((c) => c.section === 'pages');
      const count = (c) => c.pages.changed + c.pages.added + c.pages.removed;
      const inChild = pages.filter((c) => c.path.startsWith(`tasks[${h.child}].pages[`));
      assert.ok(inChild.reduce((s, c) => s + count(c), 0) <= 1, JSON.stringify(inChild));
      assert.ok(pages.every((c) => c.path.startsWith(`tasks[${h.pid}].pages[`) || inChild.includes(c)), JSON.stringify(pages.map((c) => c.path)));
      const counterPage = h.counter & ~4095n;
      const hit = pages.some((c) => c.pages.ranges.some((r) => BigInt(r.start) <= counterPage && counterPage < BigInt(r.end) && r.kind === 'changed'));
      assert.ok(hit, `the page of the counter (0x${counterPage.toString(16)}) changed`);
      const total = pages.reduce((s, c) => s + count(c), 0);
      assert.ok(total >= 1 && total <= 8, `a handful of pages changed, not ${total}`);
      // the readable form says the same
      const text = await crit('diff', d1, d2, '--ignore', 'pids', '--ignore', 'stats');
      assert.equal(text.code, 1);
      assert.match(text.stdout.toString(), new RegExp(`fds\\[1\\]  .*out\\.log\\n\\s+~ pos: \\d+ → \\d+`));
      assert.doesNotMatch(text.stdout.toString(), /\x1b\[/, 'no colour with NO_COLOR');
      // nothing but fds and pages: CI can assert it with --only
      const rest = await crit('diff', d1, d2, '--ignore', 'pids', '--ignore', 'stats', '--only', 'tree', '--only', 'task', '--only', 'sockets', '--only', 'mems');
      assert.equal(rest.code, 0, rest.stdout.toString());
    });

    await t.test('--json is stable across runs', async () => {
      const a = await crit('diff', d1, d2, '--json');
      const b = await crit('diff', d1, d2, '--json');
      assert.equal(a.stdout.toString(), b.stdout.toString());
      assert.equal(json(a).schema, 'crit-diff/1');
    });

    process.kill(h.pid, 'SIGUSR1');
    const deadline = Date.now() + 3000;
    while (!/SOCKET \d+ \d+/.test(h.log())) {
      if (Date.now() > deadline) throw new Error('no socket opened');
      await sleep(20);
    }
    const [, fdA, fdB] = /SOCKET (\d+) (\d+)/.exec(h.log());
    const d3 = dump(h.pid, join(dir, 'd3'));
    await t.test('a new socket appears with its path', async () => {
      const r = await crit('diff', d2, d3, '--only', 'sockets', '--json');
      assert.equal(r.code, 1, r.stderr);
      const added = json(r).changes.filter((c) => c.op === 'added').map((c) => c.path).sort();
      assert.deepEqual(added, [`tasks[${h.pid}].sockets[${fdA}]`, `tasks[${h.pid}].sockets[${fdB}]`].sort());
      const s = json(r).changes.find((c) => c.path.endsWith(`[${fdA}]`)).b;
      assert.equal(s.kind, 'unix');
      assert.equal(s.type, 'STREAM');
      const fds = await crit('diff', d2, d3, '--only', 'fds');
      assert.match(fds.stdout.toString(), new RegExp(`\\+ fds\\[${fdA}\\]|\\+ ${fdA}:`));
    });

    process.kill(h.child, 'SIGKILL');
    // the counter reaps it within 100 ms of its death; the dump must not see it, not even as a zombie
    const gone = Date.now() + 5000;
    while (existsSync(`/proc/${h.child}`)) {
      if (Date.now() > gone) throw new Error(`the killed child ${h.child} was not reaped`);
      await sleep(20);
    }
    const d4 = dump(h.pid, join(dir, 'd4'));
    await t.test('a killed child appears with its path', async () => {
      const r = await crit('diff', d3, d4, '--only', 'tree', '--json');
      assert.equal(r.code, 1, r.stderr);
      const d = json(r);
      assert.deepEqual(d.changes.map((c) => [c.op, c.path]), [['removed', `tasks[${h.child}]`]]);
      const text = await crit('diff', d3, d4, '--only', 'tree');
      assert.match(text.stdout.toString(), new RegExp(`- tasks\\[${h.child}\\]`));
    });
  } finally {
    stop(h, dir);
  }
});
