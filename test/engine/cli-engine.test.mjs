// criu's options that change what dump and restore do: --timeout, -s/--leave-stopped (dump and restore),
// --status-fd, --action-script (criu's hook points and CRTOOLS_* variables), -W and --pidfile/-o paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CKPT, ckpt, compile, eventually, kill, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree } from './restore-lib.mjs';

function states(pid) {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    return { tid, state: /State:\s+(\S)/.exec(st)[1], traced: /TracerPid:\s+[1-9]/.test(st) };
  });
}

function assertAllStopped(pids, when) {
  for (const p of pids) {
    for (const t of states(p)) {
      assert.equal(t.state, 'T', `${when}: thread ${t.tid} of ${p} must be stopped`);
      assert.equal(t.traced, false, `${when}: thread ${t.tid} of ${p} must not be traced`);
    }
  }
}

/** ckpt as a child with fd 3 a pipe; resolves with its exit status and what came through fd 3 */
function ckptWithFd3(args) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CKPT, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    const fd3 = [];
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.stdio[3].on('data', (d) => fd3.push(d));
    c.on('close', (status) => resolve({ status, stdout: out, stderr: err, fd3: Buffer.concat(fd3) }));
  });
}

test('dump -s leaves the tree stopped; restore -s --status-fd --action-script: stopped until SIGCONT, one zero byte, hooks in criu\'s order', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('cli-stopped');
  const h = await launch(compile('tree-pipes', dir));
  const img = join(dir, 'img'), work = join(dir, 'work');
  const hooks = join(dir, 'hooks.log');
  const script = join(dir, 'hook.sh');
  writeFileSync(script, `#!/bin/sh\necho "$CRTOOLS_SCRIPT_ACTION $CRTOOLS_INIT_PID $CRTOOLS_IMAGE_DIR $(pwd) $(cat pid 2>/dev/null)" >> ${hooks}\n`);
  chmodSync(script, 0o755);
  try {
    const pids = sessionPids(h.pid);
    assert.ok(pids.length >= 2, 'tree-pipes has children');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '-s', '--action-script', script, '-v4', '-o', 'dump.log']);
    assert.equal(d.status, 0, d.stderr);
    assertAllStopped(pids, 'after dump -s');
    for (const p of pids) process.kill(p, 'SIGKILL');
    await dumpedPidsFree(pids);
    mkdirSync(work);
    const r = await ckptWithFd3(['restore', '-D', img, '-W', work, '-d', '-s', '--pidfile', 'pid', '--status-fd', '3',
      '--action-script', script, '-v4', '-o', 'restore.log']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...r.fd3], [0], 'one zero byte on --status-fd');
    assert.equal(readFileSync(join(work, 'pid'), 'utf8'), `${h.pid}\n`, '--pidfile is relative to the work dir');
    assert.ok(existsSync(join(work, 'restore.log')), '-o is relative to the work dir');
    assertAllStopped(pids, 'after restore -s');
    const lines = readFileSync(hooks, 'utf8').trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(lines.map((l) => l[0]), ['pre-dump', 'post-dump', 'pre-restore', 'post-restore', 'pre-resume', 'post-resume']);
    for (const l of lines) {
      assert.equal(l[2], img, 'CRTOOLS_IMAGE_DIR');
      if (l[0] !== 'pre-restore') assert.equal(l[1], String(h.pid), `CRTOOLS_INIT_PID at ${l[0]}`);
    }
    assert.equal(lines[0][3], img, 'dump scripts run in the work dir (the images dir by default)');
    assert.equal(lines[3][3], work, 'restore scripts run in the work dir');
    assert.equal(lines[3][4], String(h.pid), 'the pidfile is written before post-restore');
    for (const p of pids) process.kill(p, 'SIGCONT');
    await eventually(() => assert.ok(states(h.pid).every((s) => s.state !== 'T'), 'running after SIGCONT'));
  } finally {
    kill(h);
  }
});

test('a failing post-restore script undoes the restore; a failing pre-dump script fails the dump and leaves the tree running', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('cli-script-fail');
  const h = await launch(compile('loop-static', dir, ['-static']));
  const img = join(dir, 'img');
  const script = join(dir, 'fail.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = "$FAIL_AT" ] && exit 3\nexit 0\n');
  chmodSync(script, 0o755);
  try {
    process.env.FAIL_AT = 'pre-dump';
    const d0 = ckpt(['dump', '-t', String(h.pid), '-D', img, '--action-script', script]);
    assert.equal(d0.status, 1);
    assert.match(d0.stderr, /action script .*fail\.sh \(pre-dump\) exited with 3/);
    assert.equal(d0.stderr.trim().split('\n').length <= 2, true, d0.stderr);
    assert.ok(existsSync(`/proc/${h.pid}`) && states(h.pid).every((s) => s.state !== 'T' && !s.traced), 'the tree goes on');
    process.env.FAIL_AT = 'post-restore';
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--action-script', script]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree([h.pid]);
    const r = ckpt(['restore', '-D', img, '-d', '--action-script', script]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /action script .*fail\.sh \(post-restore\) exited with 3/);
    await dumpedPidsFree([h.pid]);
  } finally {
    delete process.env.FAIL_AT;
    kill(h);
  }
});

test('--timeout N ends a dump whose tree cannot be frozen after N seconds, and leaves the tree as it was', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('cli-timeout');
  const h = await launch(compile('vfork-wait', dir));
  try {
    const t0 = Date.now();
    const d = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img'), '--timeout', '1']);
    const ms = Date.now() - t0;
    assert.equal(d.status, 1);
    assert.match(d.stderr, /Timeout reached: task \d+ did not stop within 1 s \(--timeout\)/);
    assert.ok(ms < 8000, `gave up after ${ms} ms`);
    assert.ok(states(h.pid).every((s) => !s.traced), 'released');
  } finally {
    kill(h);
  }
});

test('check --feature: criu\'s names, one line in criu\'s words, exit 0 only when present; an unknown name is refused', (t) => {
  if (!needPtrace(t)) return;
  const names = ckpt(['check', '--feature', 'list']).stdout.trim().split(' ');
  for (const n of ['mnt_id', 'seccomp_filters', 'get_rseq_conf', 'timens', 'fdinfo_lock', 'aio_remap', 'clone3_set_tid', 'tun_ns', 'pagemap_scan']) assert.ok(names.includes(n), n);
  for (const n of names) {
    const r = ckpt(['--no-default-config', '-verbosity=0', 'check', '--feature', n]);
    const out = r.stdout + r.stderr;
    assert.equal(out.trim().split('\n').length, 1, `${n}: ${out}`);
    if (r.status === 0) assert.equal(r.stdout, `${n} is supported\n`);
    else assert.match(out.trim(), new RegExp(`^Warn: ${n} is not supported \\(.+\\)$`), n);
  }
  // what ckpt does not dump or use is refused with that reason, never probed as if it did
  for (const n of ['tcp_half_closed', 'sk_unix_file', 'uffd-noncoop', 'breakpoints', 'pidfd_store']) {
    const r = ckpt(['check', '--feature', n]);
    assert.equal(r.status, 1, n);
    assert.match(r.stdout + r.stderr, /is not supported \(ckpt /, n);
  }
  // kcmp, which ckpt requires, has had KCMP_EPOLL_TFD since Linux 4.13 (the engine's moved-epoll-target lookup)
  assert.equal(ckpt(['check', '--feature', 'kcmp_epoll']).status, 0);
  // /proc/PID/fdinfo has had mnt_id since Linux 3.15: ZDTM's most common requirement
  assert.equal(ckpt(['check', '--feature', 'mnt_id']).status, 0);
  const bad = ckpt(['check', '--feature', 'bogus']);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout + bad.stderr, /Unknown feature bogus/);
});
