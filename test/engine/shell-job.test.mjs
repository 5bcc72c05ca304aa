// --shell-job: a program whose stdin/stdout/stderr is a pty held by script(1), outside the dumped
// tree (CRIU's corpus case shell-job). Refused without -j, like CRIU; with -j the same images as
// CRIU 4.2 wrote (tty-info with termios/winsize/sid/pgrp, a REG entry for /dev/pts/N and the TTY
// file entry), and with --leave-running the program goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, CORPUS, eventually, imageSet, needPtrace, pythonCritFailures, sleep, workDir } from './helpers.mjs';
import { assertSameStructure, decodeAll } from './compare.mjs';

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]) };
}

/** Starts prog under `setsid script -qfec` (a real pty whose master script holds), like the corpus run. */
async function launchInPty(prog, dir) {
  const log = join(dir, 'out.log');
  closeSync(openSync(log, 'a'));
  // only fds 0-2 (the runner may have inherited others without CLOEXEC)
  const close = 'n=3; while [ $n -lt 256 ]; do eval "exec $n>&-" 2>/dev/null; n=$((n+1)); done; exec "$@"';
  const child = spawn('/bin/bash', ['-c', close, 'bash', 'setsid', 'script', '-qfec', `${prog} ${log}`, join(dir, 'typescript')], {
    cwd: dir, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', TERM: 'xterm' },
  });
  child.unref();
  const deadline = Date.now() + 5000;
  let m;
  while (!(m = /READY pid=(\d+) sid=(\d+) pgid=(\d+) tty=(\S+)/.exec(readFileSync(log, 'utf8')))) {
    if (Date.now() > deadline) throw new Error('shell-job did not print READY');
    await sleep(20);
  }
  const pid = Number(m[1]);
  const shell = stat(pid).ppid; // sh -c, the session leader on the pty
  const script = stat(shell).ppid;
  const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { pid, sid: Number(m[2]), tty: m[4], shell, script, lines, pids: [pid, shell, script] };
}

/** The program first (its shell reaps it and exits, then script), then whatever is left. */
async function killAll(h) {
  try { process.kill(h.pid, 'SIGKILL'); } catch {}
  await sleep(200);
  for (const p of h.pids) {
    try { process.kill(p, 'SIGKILL'); } catch {}
  }
}

function ticks(lines) {
  return lines.filter((l) => l.startsWith('tick')).map((l) => Number(/tick (\d+)/.exec(l)[1]));
}

async function assertRunsOn(h) {
  const before = h.lines().length;
  assert.ok(alive(h.pid), 'the program is alive');
  const st = readFileSync(`/proc/${h.pid}/status`, 'utf8');
  assert.ok(!/TracerPid:\s+[1-9]/.test(st), 'not traced');
  assert.ok(!/State:\s+[tT]/.test(st), 'not stopped');
  await eventually(() => {
    const after = h.lines();
    assert.ok(after.length >= before + 2, 'keeps ticking');
    const t = ticks(after);
    for (let i = 1; i < t.length; i++) assert.equal(t[i], t[i - 1] + 1, 'tick sequence is unbroken');
  });
}

test('shell job: refused without -j (dangling tty), dumped with -j like CRIU 4.2, program goes on', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('shell-job');
  const prog = compile('shell-job', dir);
  const h = await launchInPty(prog, dir);
  try {
    assert.match(h.tty, /^\/dev\/pts\/\d+$/);
    const img0 = join(dir, 'img0');
    const r0 = ckpt(['dump', '-t', String(h.pid), '-D', img0, '-R']);
    assert.notEqual(r0.status, 0);
    assert.match(r0.stderr, new RegExp(`Found dangling tty with sid ${h.sid} pgid \\d+ \\(pts\\) on fd 0 of task ${h.pid}`));
    assert.match(r0.stderr, /--shell-job/);
    assert.equal(existsSync(join(img0, 'inventory.img')), false);
    await assertRunsOn(h);

    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-j', '--leave-running', '-v4', '-o', 'dump.log']);
    assert.equal(r.status, 0, r.stderr);
    await assertRunsOn(h);

    const ours = await decodeAll(img);
    const tty = ours['tty-info.img'].entries;
    assert.equal(tty.length, 1);
    const ps = ours['pstree.img'].entries[0];
    assert.equal(ps.sid, h.sid);
    assert.equal(tty[0].sid, h.sid, 'the session of the terminal (the shell outside the tree)');
    assert.equal(tty[0].pgrp, stat(h.shell).pgid, 'the foreground group');
    const index = Number(h.tty.slice('/dev/pts/'.length));
    assert.equal(tty[0].id, index << 1);
    assert.equal(tty[0].pty.index, index);
    assert.equal(tty[0].rdev >> 8, 136);
    const files = ours['files.img'].entries;
    const ttyFile = files.find((e) => e.type === 'TTY');
    const regf = files.find((e) => e.id === ttyFile.tty.regf_id);
    assert.equal(regf.reg.name, h.tty);
    assert.equal(ttyFile.tty.tty_info_id, tty[0].id);

    const ref = join(CORPUS, 'shell-job');
    if (existsSync(ref) || process.env.CI) { // the corpus is required under CI
      const { theirs } = await assertSameStructure(img, ref);
      // script(1) sets the same terminal modes every time; CRIU leaves c_cc words 8..18 uninitialised
      const shape = (e) => {
        const out = { ...e, sid: 0, pgrp: 0, rdev: 0, dev: 0, id: 0, pty: 0 };
        for (const k of ['termios', 'termios_locked']) out[k] = { ...e[k], c_cc: e[k].c_cc.slice(0, 8) };
        return out;
      };
      assert.deepEqual(shape(tty[0]), shape(theirs['tty-info.img'].entries[0]));
      const flagsOf = (imgs) => imgs['files.img'].entries.filter((e) => e.type === 'TTY' || e.reg?.name?.startsWith('/dev/pts/'))
        .map((e) => [e.type, e.tty?.flags ?? e.reg.flags, e.reg?.mode ?? 0]);
      assert.deepEqual(flagsOf(ours), flagsOf(theirs));
    }
    const bad = pythonCritFailures(img);
    if (bad) assert.deepEqual(bad, [], 'Debian crit must decode every image');
  } finally {
    await killAll(h);
  }
});
