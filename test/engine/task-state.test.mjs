// Task state a restore must bring back, each checked by the program itself every tick (progs/task-*.c print
// "tick N ok", or "tick N BAD why"): dumped, restored, and it must go on ticking ok, never BAD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, eventually, kill, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, restoreOk } from './restore-lib.mjs';
import { decodeAll } from './compare.mjs';

const isOk = (l) => /^tick \d+ ok/.test(l);

/** launch progs/NAME.c, let it tick ok, dump it (killed), restore it and see it tick ok again; returns the images */
async function restoredOk(t, name, { args = [], dumpArgs = [] } = {}) {
  if (!needPtrace(t)) return undefined;
  const dir = workDir(name);
  const h = await launch(compile(name, dir), args);
  try {
    await eventually(() => assert.ok(h.lines().filter(isOk).length >= 2, h.lines().slice(-3).join('\n')));
    const pids = sessionPids(h.pid);
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log', ...dumpArgs]);
    assert.equal(r.status, 0, r.stderr);
    await dumpedPidsFree(pids);
    const n = h.lines().length;
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => {
      const after = h.lines().slice(n);
      assert.ok(after.filter(isOk).length >= 3, `after the restore: ${after.slice(-3).join(' | ')}`);
    });
    assert.deepEqual(h.lines().filter((l) => /BAD/.test(l)), []);
    assert.deepEqual(sessionPids(h.pid).sort(), pids.sort(), 'the same tasks');
    return await decodeAll(img);
  } finally {
    kill(h);
  }
}

test('stopped children keep their stop signal: SIGTSTP stays SIGTSTP, SIGSTOP stays SIGSTOP (zdtm stopped03)', async (t) => {
  const imgs = await restoredOk(t, 'task-stopped');
  if (!imgs) return;
  const signos = Object.entries(imgs).filter(([k]) => /^core-\d+\.img$/.test(k)).map(([, v]) => v.entries[0].tc)
    .filter((tc) => tc.task_state === 3).map((tc) => tc.stop_signo).sort();
  assert.deepEqual(signos, [19, 20]);
});

/** launch progs/NAME.c with args: its dump must fail with a line matching re, and leave it ticking ok */
async function refused(t, name, args, re) {
  if (!needPtrace(t)) return;
  const dir = workDir(name);
  const h = await launch(compile(name, dir), args);
  try {
    const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.notEqual(r.status, 0);
    const errors = r.stderr.split('\n').filter((l) => /Error/.test(l));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], re);
    const n = h.lines().length;
    await eventually(() => assert.ok(h.lines().slice(n).filter(isOk).length >= 2, 'runs on after the refusal'));
  } finally {
    kill(h);
  }
}

test('capabilities of each task come back: inheritable, permitted, effective, bounding and ambient (zdtm caps01)', async (t) => {
  const imgs = await restoredOk(t, 'task-caps');
  if (!imgs) return;
  const ambs = Object.entries(imgs).filter(([k]) => /^core-\d+\.img$/.test(k)).map(([, v]) => v.entries[0].thread_core.creds.cap_amb[0]).sort();
  assert.deepEqual(ambs, [1 << 0, (1 << 5) | (1 << 10)].sort());
});

test('ambient capabilities under SECBIT_NO_CAP_AMBIENT_RAISE are refused at dump, naming the task', async (t) => {
  await refused(t, 'task-caps', ['lock'], /Error: .*task \d+: ambient capabilities with SECBIT_NO_CAP_AMBIENT_RAISE set cannot be restored/);
});

test('membarrier registrations of each mm come back, and only those (zdtm membarrier)', async (t) => {
  const imgs = await restoredOk(t, 'task-membarrier');
  if (!imgs) return;
  const masks = Object.entries(imgs).filter(([k]) => /^core-\d+\.img$/.test(k)).map(([, v]) => v.entries[0].tc.membarrier_registration_mask).sort();
  assert.deepEqual(masks, [(1 << 2) | (1 << 4), 1 << 6].sort());
});

test('fd tables shared with CLONE_FILES stay shared, and only those (zdtm fdt_shared)', async (t) => {
  const imgs = await restoredOk(t, 'task-fdt-shared');
  if (!imgs) return;
  const filesIds = Object.entries(imgs).filter(([k]) => /^ids-\d+\.img$/.test(k)).map(([, v]) => v.entries[0].files_id);
  assert.equal(filesIds.length, 5);
  assert.equal(new Set(filesIds).size, 3, 'P, A and G one table; B and C one each');
});

test('an fd table shared with a task other than the parent is refused at dump, naming both', async (t) => {
  await refused(t, 'task-fdt-shared', ['siblings'], /Error: .*task \d+ shares its fd table \(CLONE_FILES\) with task \d+, which is not its parent/);
});

test('memory shared by two processes (CLONE_VM) is refused at dump, naming both', async (t) => {
  await refused(t, 'task-fdt-shared', ['vm'], /Error: .*task \d+ shares its memory \(CLONE_VM\) with task \d+: not supported/);
});

test('pidfds of live tasks, of the task itself and of a dead process come back, flags and shared inodes too (zdtm pidfd_*)', async (t) => {
  const imgs = await restoredOk(t, 'task-pidfd');
  if (!imgs) return;
  const pidfds = imgs['files.img'].entries.filter((f) => f.type === 'PIDFD').map((f) => f.pidfd);
  assert.equal(pidfds.length, 4, 'self, A (twice: P and B), dead');
  assert.equal(pidfds.filter((p) => p.nspid === -1).length, 1);
});

test('a pidfd of a process outside the tree is refused at dump, naming it', async (t) => {
  await refused(t, 'task-pidfd', ['outside'], /Error: .*Can't dump fd \d+ of task \d+.*: its process 1 is not a live task of the dumped tree/);
});

test('O_PATH fds of a symlink itself and of a file come back (zdtm symlink, opath_file)', async (t) => {
  const imgs = await restoredOk(t, 'task-opath');
  if (!imgs) return;
  const S_IFMT = 0o170000, S_IFLNK = 0o120000;
  assert.ok(imgs['files.img'].entries.some((f) => f.reg && (f.reg.mode & S_IFMT) === S_IFLNK && f.reg.name.endsWith('/opath-link')));
});

test('an O_PATH fd of a deleted symlink comes back: a ghost symlink, as CRIU (zdtm symlink01)', async (t) => {
  const imgs = await restoredOk(t, 'task-opath', { args: ['deleted'] });
  if (!imgs) return;
  const ghost = Object.entries(imgs).find(([k]) => /^ghost-file-\d+\.img$/.test(k));
  assert.ok(ghost, 'a ghost-file image');
  assert.equal(ghost[1].entries[0].symlnk_target, 'opath-target');
});
