// ckpt dump on a terminal shows how far the copy of a large task's memory is, one line
// rewritten in place and cleared at the end; not on a pipe or a log, not with -v0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { alive, ckpt, CKPT, compile, kill, launch, needPtrace, workDir } from './helpers.mjs';

const MIB = 200;
const LINE = /dumping memory of task (\d+): (\d+) MiB of (\d+) MiB \((\d+)%\)/;

/** ckpt with a terminal as its stdin, stdout and stderr (script's pty): what it wrote there */
function ckptOnTerminal(args) {
  const cmd = [process.execPath, CKPT, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'latin1' });
  return { status: r.status, out: r.stdout };
}

test('dump on a terminal: progress of the memory copy, then the line is cleared', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('progress');
  const h = await launch(compile('bigmem', dir), [String(MIB)]);
  try {
    const r = ckptOnTerminal(['dump', '-t', String(h.pid), '-D', join(dir, 'img'), '-R']);
    assert.equal(r.status, 0, r.out);
    const shown = r.out.split('\r').map((s) => LINE.exec(s)).filter(Boolean);
    assert.ok(shown.length >= 3, `progress lines: ${JSON.stringify(r.out)}`);
    let last = -1;
    for (const [, pid, done, total, pct] of shown) {
      assert.equal(Number(pid), h.pid);
      assert.ok(Number(total) >= MIB && Number(total) < MIB + 8, `total ${total} MiB`);
      assert.ok(Number(done) > last && Number(done) <= Number(total));
      assert.ok(Math.abs(Number(pct) - (100 * Number(done)) / Number(total)) <= 1, `${done} of ${total} MiB is not ${pct}%`);
      last = Number(done);
    }
    assert.match(r.out, /\(\d+%\)\r\x1b\[K/, 'the progress line is cleared when the copy ends');
    assert.ok(alive(h.pid), '-R: the program goes on');

    // -v0: nothing at all, even on a terminal
    const quiet = ckptOnTerminal(['dump', '-t', String(h.pid), '-D', join(dir, 'img-quiet'), '-R', '-v0']);
    assert.equal(quiet.status, 0, quiet.out);
    assert.doesNotMatch(quiet.out, /dumping memory/);
    // not a terminal: no progress lines in the output
    const piped = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img-piped'), '-R']);
    assert.equal(piped.status, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /dumping memory/);
  } finally {
    kill(h);
  }
});
