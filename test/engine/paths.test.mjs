// Paths a restore resolves as CRIU does (progs/paths.c checks its own state every tick: "tick N ok" or "tick N
// BAD why"): a root and a cwd outside it (chroot), /proc/PID files of the task itself and of other tasks of the
// tree (opened once that task exists), a cwd and an fd in /proc/PID of a process dead when dumped (a PROCFS
// remap: unhashed again after the restore), fds on the tree's namespaces (NS entries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, eventually, kill, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, restoreOk } from './restore-lib.mjs';
import { decodeAll } from './compare.mjs';

const isOk = (l) => /^tick \d+ ok/.test(l);

test('chroot with the cwd outside the root, /proc files of the tree and of a dead process, namespace fds come back', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('paths');
  const h = await launch(compile('paths', dir));
  try {
    await eventually(() => assert.ok(h.lines().filter(isOk).length >= 2, h.lines().slice(-3).join('\n')));
    const pids = sessionPids(h.pid);
    assert.equal(pids.length, 3, 'P, C and E');
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    assert.equal(r.status, 0, r.stderr);

    const imgs = await decodeAll(img);
    const remaps = imgs['remap-fpath.img'].entries.filter((e) => e.remap_type === 'PROCFS');
    assert.equal(remaps.length, 1, 'one PROCFS remap for the dead process (CRIU: one per PID)');
    const dead = remaps[0].remap_id;
    assert.ok(!pids.includes(dead));
    const names = imgs['files.img'].entries.filter((f) => f.reg).map((f) => f.reg.name);
    assert.ok(names.includes(`/proc/${dead}`), 'the dead /proc/PID without " (deleted)"');
    const ns = imgs['files.img'].entries.filter((f) => f.type === 'NS').map((f) => f.nsf.ns_cflag).sort((a, b) => a - b);
    assert.deepEqual(ns, [0x04000000, 0x40000000], 'uts and net namespace files');

    await dumpedPidsFree(pids);
    const n = h.lines().length;
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => {
      const after = h.lines().slice(n);
      assert.ok(after.filter(isOk).length >= 3, `after the restore: ${after.slice(-3).join(' | ')}`);
    });
    assert.deepEqual(h.lines().filter((l) => /BAD/.test(l)), []);
    assert.deepEqual(sessionPids(h.pid).sort(), pids.sort(), 'the same tasks');
  } finally {
    kill(h);
  }
});

test('an fd on a namespace the tree does not live in is refused at dump, naming it', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('paths-otherns');
  const h = await launch(compile('paths', dir), ['otherns']);
  try {
    const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.notEqual(r.status, 0);
    const errors = r.stderr.split('\n').filter((l) => /Error/.test(l));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /Can't dump fd \d+ of task \d+ \(uts:\[\d+\]\): a uts namespace the tree does not live in is not supported/);
    const m = h.lines().length;
    await eventually(() => assert.ok(h.lines().slice(m).filter(isOk).length >= 2, 'runs on after the refusal'));
  } finally {
    kill(h);
  }
});
