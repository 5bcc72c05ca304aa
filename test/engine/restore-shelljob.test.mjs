// --shell-job with a terminal: a program whose stdin/stdout/stderr is a pts held by script(1) (outside the
// tree). Its restore is refused without -j; with -j, run inside a new script(1) pty as CRIU's corpus run
// did, the program gets the caller's terminal (as CRIU does), joins the caller's session and goes on,
// printing to the new terminal. CRIU 4.2's shell-job images and our own dump of the same program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CKPT, CORPUS, ckpt, compile, needPtrace, workDir } from './helpers.mjs';
import { corpusOrSkip } from '../lib/corpus.mjs';
import { dumpedPidsFree, killPids, lines, pidNamespaceOrSkip, stat, ticks, until, waitGone } from './restore-lib.mjs';

const ENV = { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', TERM: 'xterm' };
const CLOSE = 'n=3; while [ $n -lt 256 ]; do eval "exec $n>&-" 2>/dev/null; n=$((n+1)); done; exec "$@"';

/** `setsid script -qfec CMD TYPESCRIPT` in dir, detached from us (script holds the pty master) */
function inPty(dir, cmd, typescript) {
  const c = spawn('/bin/bash', ['-c', CLOSE, 'bash', 'setsid', 'script', '-qfec', cmd, typescript], { cwd: dir, stdio: 'ignore', env: ENV });
  c.unref();
}

/**
 * restores img with -j inside a new pty (and inside ns, a pidNamespace, when given); checks the program is
 * back on that terminal and goes on
 */
async function restoreInPty(dir, img, nsPid, log, last = ticks(lines(log)).at(-1), ns = undefined) {
  const ts = join(dir, 'typescript-restore');
  writeFileSync(ts, '');
  inPty(dir, `${ns ? `${ns.enter.join(' ')} ` : ''}${process.execPath} ${CKPT} restore -D ${img} -j -v4 -o ${join(dir, 'restore.log')}`, ts);
  await until(() => ticks(lines(log)).some((n) => n > last + 2), 10000, `ticks after restore (${existsSync(join(dir, 'restore.log')) ? readFileSync(join(dir, 'restore.log'), 'utf8') : ''})`);
  const pid = ns ? ns.host(nsPid) : nsPid;
  const after = ticks(lines(log)).filter((n) => n > last);
  assert.equal(after[0], last + 1, 'the counter goes on');
  const tty = readlinkSync(`/proc/${pid}/fd/0`);
  assert.match(tty, /^\/dev\/pts\/\d+$/);
  assert.equal(readlinkSync(`/proc/${pid}/fd/1`), tty);
  const helper = stat(pid).ppid;
  assert.equal(readlinkSync(`/proc/${helper}/fd/0`), tty, "the caller's terminal");
  assert.equal(stat(pid).sid, stat(helper).sid, "in the caller's session");
  await until(() => /tick \d+/.test(readFileSync(ts, 'utf8')), 10000, 'ticks on the new terminal');
}

test("restore CRIU 4.2's shell-job: refused without -j, on the caller's terminal with it", async (t) => {
  if (!corpusOrSkip(t) || !needPtrace(t)) return;
  const name = 'shell-job', src = `/tmp/corpus-src/${name}`, run = `/tmp/corpus-run/${name}`;
  mkdirSync(src, { recursive: true });
  mkdirSync(run, { recursive: true });
  copyFileSync(join(CORPUS, name, 'bin/prog'), join(src, 'prog'));
  chmodSync(join(src, 'prog'), 0o755);
  const log = join(run, 'out.log');
  writeFileSync(log, '');
  // CRIU's run: "lines after restore: N; last: ...|tick L|" -> the last tick before the dump was L - N
  const m = /^lines after restore: (\d+); last: .*\|tick (\d+)\|$/m.exec(readFileSync(join(CORPUS, name, 'run-result.txt'), 'utf8'));
  const lastBefore = Number(m[2]) - Number(m[1]);
  const pid = Number(/^started: READY pid=(\d+)/m.exec(readFileSync(join(CORPUS, name, 'run-result.txt'), 'utf8'))[1]);
  // the images keep the PID CRIU's machine gave the program: restored in a fresh PID namespace, where nothing holds it
  const ns = await pidNamespaceOrSkip(t, 'restore-shell-job-ns');
  if (!ns) return;
  try {
    const r = ns.ckpt(['restore', '-D', join(CORPUS, name), '-d']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`task ${pid} fd 0: terminal /dev/pts/\\d+ belongs to a session outside the tree: restore with --shell-job`));
    const dir = workDir('restore-shell-job-corpus');
    // the images are read only: the restore log goes to our work dir
    await restoreInPty(dir, join(CORPUS, name), pid, log, lastBefore, ns);
  } finally {
    await ns.close();
  }
});

test('restore our own shell-job dump with -j in a new terminal, dump it again and restore again', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-shell-job');
  const prog = compile('shell-job', dir);
  const log = join(dir, 'out.log');
  closeSync(openSync(log, 'a'));
  inPty(dir, `${prog} ${log}`, join(dir, 'typescript'));
  const pid = Number((await until(() => /READY pid=(\d+)/.exec(readFileSync(log, 'utf8')), 5000, 'READY'))[1]);
  try {
    await until(() => ticks(lines(log)).length, 5000, 'a tick before the dump');
    for (const round of [1, 2]) {
      const img = join(dir, `img${round}`);
      const d = ckpt(['dump', '-t', String(pid), '-D', img, '-j']);
      assert.equal(d.status, 0, d.stderr);
      await dumpedPidsFree([pid]);
      await restoreInPty(dir, img, pid, log);
    }
  } finally {
    killPids([pid]);
    await waitGone([pid]);
  }
});
