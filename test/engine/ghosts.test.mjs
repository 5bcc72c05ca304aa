// Files gone from the filesystem while open (CRIU's ghost files and link remaps): removed directories (a cwd
// too, and one whose parent is gone), a device node, a FIFO with data, a symlink, an O_TMPFILE file, an
// inotify watch on a removed file, and a removed file that still has another name (--link-remap: the same
// inode comes back). The program checks each of them every tick; after the restore nothing made for it is
// left on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, eventually, launch, needPtrace, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, lines, restoreOk, until } from './restore-lib.mjs';

const okTicks = (all) => all.filter((l) => /^tick \d+ ok$/.test(l)).length;
const badTicks = (all) => all.filter((l) => /^tick \d+ BAD/.test(l));

test('removed dirs, cwd, device, FIFO, symlink, O_TMPFILE file, a watch on a removed file and a link remap come back as they were', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('ghosts');
  const g = join(dir, 'g');
  const h = await launch(compile('ghosts', dir), [dir]);
  try {
    await until(() => okTicks(h.lines()) >= 1, 5000, 'a tick');
    assert.deepEqual(badTicks(h.lines()), []);
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--link-remap']);
    assert.equal(d.status, 0, d.stderr);
    // the removed file with another name got one more for the restore
    assert.deepEqual(readdirSync(g).sort(), ['linked.other', readdirSync(g).find((f) => /^link_remap\.\d+$/.test(f))].sort());
    await dumpedPidsFree([h.pid]);
    const n = lines(h.log).length;
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => {
      const after = lines(h.log).slice(n);
      assert.deepEqual(badTicks(after), []);
      assert.ok(okTicks(after) >= 2, 'it goes on');
    });
    assert.equal(readlinkSync(`/proc/${h.pid}/cwd`), `${join(g, 'cwd')} (deleted)`);
    assert.equal(readlinkSync(`/proc/${h.pid}/fd/3`), `${join(g, 'gone/sub')} (deleted)`);
    // ghosts, their private directories, the recreated parent and the link remap are all gone
    assert.deepEqual(readdirSync(g), ['linked.other']);
  } finally {
    killPids([h.pid]);
  }
});

test('a removed file with another name is refused without --link-remap; -R leaves no link remap', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('ghosts-refuse');
  const g = join(dir, 'g');
  const h = await launch(compile('ghosts', dir), [dir]);
  try {
    await until(() => okTicks(h.lines()) >= 1, 5000, 'a tick');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, new RegExp(`fd 10 of task ${h.pid} \\(${join(g, 'linked')} \\(deleted\\)\\): a deleted file that has other names needs --link-remap`));
    const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img2'), '--link-remap', '-R']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(g), ['linked.other'], 'no link remap left by a dump that leaves the tree running');
    const n = lines(h.log).length;
    await eventually(() => {
      const after = lines(h.log).slice(n);
      assert.deepEqual(badTicks(after), []);
      assert.ok(okTicks(after) >= 2, 'it goes on');
    });
  } finally {
    killPids([h.pid]);
  }
});
