// Restoring CRIU 4.2's own dumps (../shared/corpus): the exact binaries go back to the paths the images
// record (/tmp/corpus-src/<case>/), the run dirs (/tmp/corpus-run/<case>/ with out.log) are created, the
// dumped PIDs must be free. Each case must come back with its PIDs and keep running correctly; loop-static
// and loop-dynamic are then dumped by us and restored again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS, ckpt, needPtrace, sleep, workDir } from './helpers.mjs';
import { corpusOrSkip } from '../lib/corpus.mjs';
import { killPids, lines, restoreOk, stat, threadsOf, ticks, waitGone } from './restore-lib.mjs';

function setup(name) {
  const src = `/tmp/corpus-src/${name}`, run = `/tmp/corpus-run/${name}`;
  mkdirSync(src, { recursive: true });
  mkdirSync(run, { recursive: true, mode: 0o755 });
  for (const b of readdirSync(join(CORPUS, name, 'bin'))) {
    copyFileSync(join(CORPUS, name, 'bin', b), join(src, b));
    chmodSync(join(src, b), 0o755);
  }
  writeFileSync(join(run, 'out.log'), '');
  const rr = readFileSync(join(CORPUS, name, 'run-result.txt'), 'utf8');
  const pids = /^tree pids: ([\d ]+)/m.exec(rr)[1].trim().split(/\s+/).map(Number);
  const lastBefore = /^last lines before dump: (.*)$/m.exec(rr)?.[1].split('|').filter(Boolean) ?? [];
  return { log: join(run, 'out.log'), pids, lastBefore };
}

const CASES = {
  'loop-static': (c, after) => assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1, 'tick continues'),
  'loop-dynamic': (c, after) => {
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    assert.ok(after.every((l) => /pattern=ok$/.test(l)), after.join('|'));
  },
  threads: (c, after) => {
    assert.equal(threadsOf(c.pids[0]), 5);
    const re = /c0=(\d+) c1=(\d+) c2=(\d+) c3=(\d+)/;
    const first = re.exec(after[0]).slice(1).map(Number), last = re.exec(after.at(-1)).slice(1).map(Number);
    last.forEach((v, i) => assert.ok(v > first[i], `worker ${i} runs`));
  },
  'tree-pipes': (c, after) => {
    const [root, c1, c2] = c.pids;
    assert.equal(stat(c1).ppid, root);
    assert.equal(stat(c2).pgid, c2);
    assert.ok(ticks(after, /^parent got: child1 tick (\d+)/).length >= 2, after.join('|'));
  },
  'unix-sockets': (c, after) => {
    const a = ticks(after, /^server got: client tick (\d+)/);
    assert.ok(a.length >= 2, after.join('|'));
    assert.equal(a[0], ticks(c.lastBefore, /^server got: client tick (\d+)/).at(-1) + 1);
  },
};

for (const [name, check] of Object.entries(CASES)) {
  test(`restore CRIU 4.2's ${name}`, async (t) => {
    if (!corpusOrSkip(t) || !needPtrace(t)) return;
    const c = setup(name);
    assert.ok(await waitGone(c.pids, 5000), `PIDs ${c.pids} must be free to restore the corpus case`);
    try {
      const root = restoreOk(join(CORPUS, name));
      assert.equal(root, c.pids[0]);
      await sleep(1000);
      assert.ok(c.pids.every((p) => existsSync(`/proc/${p}`)), 'every PID is back');
      const after = lines(c.log);
      assert.ok(after.length >= 2, 'the program keeps logging');
      check(c, after);
      if (name === 'loop-static' || name === 'loop-dynamic') {
        // and once more through our own dump
        const img = join(workDir(`corpus-${name}`), 'img');
        const d = ckpt(['dump', '-t', String(root), '-D', img]);
        assert.equal(d.status, 0, d.stderr);
        assert.ok(await waitGone(c.pids));
        const n = lines(c.log).length;
        assert.equal(restoreOk(img), root);
        await sleep(700);
        const again = lines(c.log).slice(n);
        assert.equal(ticks(again)[0], ticks(lines(c.log).slice(0, n)).at(-1) + 1);
        if (name === 'loop-dynamic') assert.ok(again.every((l) => /pattern=ok$/.test(l)));
      }
    } finally {
      killPids(c.pids);
      await waitGone(c.pids);
    }
  });
}
