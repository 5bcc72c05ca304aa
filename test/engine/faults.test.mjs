// Dumps that must fail: the tree is left running exactly as it was, the error says why, the exit
// code is non-zero and the images dir is marked unusable (no inventory.img).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, eventually, kill, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { spawnSync } from 'node:child_process';
import { CKPT } from './helpers.mjs';

async function assertStillRunning(h, pids) {
  const before = h.lines().length;
  for (const p of pids) {
    assert.ok(alive(p), `task ${p} must still be alive`);
    const st = spawnSync('cat', [`/proc/${p}/status`], { encoding: 'utf8' }).stdout;
    assert.ok(!/TracerPid:\s+[1-9]/.test(st), `task ${p} must not stay traced`);
    assert.ok(!/State:\s+[tT]/.test(st), `task ${p} must not stay stopped`);
  }
  await eventually(() => assert.ok(h.lines().length > before, 'the program keeps logging'));
}

function assertUnusable(img) {
  assert.equal(existsSync(join(img, 'inventory.img')), false, 'no inventory.img in a failed dump');
  assert.ok(existsSync(join(img, 'ckpt-dump-failed')), 'failed dump is marked');
}

test('an unsupported fd (a corked UDP socket) is refused by name; the tree keeps running', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('fault-unsupported');
  const h = await launch(compile('unsupported-fd', dir));
  try {
    const pids = sessionPids(h.pid);
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Can't dump fd 3 of task \d+ \(IPv4 socket:\[\d+\]\): a corked datagram socket \(UDP_CORK\) cannot be dumped/);
    assertUnusable(img);
    await assertStillRunning(h, pids);
  } finally {
    kill(h);
  }
});

test('held file locks without --file-locks are refused by name; the program keeps running', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('fault-locks');
  const h = await launch(compile('fifo-locks', dir), [dir]);
  try {
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Can't dump fd 5 of task \d+ \(.*flock\.dat\): it holds a FLOCK WRITE lock; use --file-locks/);
    assertUnusable(img);
    await assertStillRunning(h, [h.pid]);
  } finally {
    kill(h);
  }
});

test('a task exiting halfway through the dump fails it; the other tasks keep running', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('fault-exit');
  const h = await launch(compile('tree-pipes', dir));
  try {
    const img = join(dir, 'img');
    const r = spawnSync(process.execPath, [CKPT, 'dump', '-t', String(h.pid), '-D', img], {
      encoding: 'utf8', env: { ...process.env, CKPT_FAULT: 'kill-after-freeze' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /task \d+ exited during the dump|Task \d+ exited/);
    assertUnusable(img);
    await assertStillRunning(h, [h.pid]);
  } finally {
    kill(h);
  }
});

test('a missing pid is an error naming it', async (t) => {
  if (!needPtrace(t)) return;
  // PIDs are below pid_max: this one is never in use
  const pid = readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim();
  const r = ckpt(['dump', '-t', pid, '-D', join(workDir('fault-nopid'), 'img')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`Can't dump task ${pid}: no such process`));
});
