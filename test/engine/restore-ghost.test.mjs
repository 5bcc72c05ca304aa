// Ghost files (deleted files a task holds open) are made before the helper runs. They hold the image's data
// and mode, setuid bits included: each is made in a private directory next to its path and linked to its
// public name only when complete, so nothing at a public path is ever a half-made setuid file; the private
// directory is gone after a restore, a failed one included. A name in the way is left alone: the ghost takes
// the next free one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CKPT, ckpt, compile, eventually, launch, needPtrace, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, lines, restoreOk, ticks, until, waitGone } from './restore-lib.mjs';

const IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_CLOSE_WRITE = 0x8, IN_CREATE = 0x100, IN_DELETE = 0x200, IN_ISDIR = 0x40000000;
const GHOST = /^suid\.bin\.cr\.[0-9a-f]+(\.\d+)?\.ghost$/;
const PRIVATE = /^\.ckpt-ghost-/;

/** inotify events in dir from now on: events() -> [{mask, name}] in the order they happened */
async function watch(dir) {
  const w = spawn(compile('inotify-log', workDir('inotify')), [dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  w.stdout.on('data', (d) => { out += d; });
  await until(() => out.startsWith('READY\n'), 5000, 'the inotify watch');
  return {
    events: () => out.split('\n').slice(1).filter(Boolean).map((l) => ({ mask: parseInt(l, 16), name: l.slice(l.indexOf(' ') + 1) })),
    stop: () => w.kill('SIGKILL'),
  };
}

const leftovers = (dir) => readdirSync(dir).filter((f) => GHOST.test(f) || PRIVATE.test(f));

test('a setuid ghost file appears at its path only complete, with its mode; the private directory goes', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-ghost');
  const h = await launch(compile('ghost-setuid', dir), [dir]);
  try {
    await until(() => ticks(h.lines()).length, 5000, 'a tick');
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree([h.pid]);
    const n = h.lines().length;
    const w = await watch(dir);
    try {
      assert.equal(restoreOk(img), h.pid);
      // the helper has unlinked the ghost once open
      await until(() => w.events().some((e) => GHOST.test(e.name) && e.mask & IN_DELETE), 5000, 'the ghost file unlinked');
      const ghost = w.events().filter((e) => GHOST.test(e.name));
      assert.ok(ghost[0].mask & IN_CREATE, `first seen created: ${JSON.stringify(ghost)}`);
      // between its creation (the link) and its removal nothing is written to it and no attribute changes:
      // it was complete (data, owner, mode, times) before it had this name
      const upToDelete = ghost.slice(0, ghost.findIndex((e) => e.mask & IN_DELETE));
      assert.deepEqual(upToDelete.filter((e) => e.mask & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)), [], JSON.stringify(ghost));
      const priv = w.events().filter((e) => PRIVATE.test(e.name) && e.mask & IN_ISDIR);
      assert.ok(priv.some((e) => e.mask & IN_CREATE) && priv.some((e) => e.mask & IN_DELETE), `private directory made and removed: ${JSON.stringify(priv)}`);
    } finally {
      w.stop();
    }
    assert.deepEqual(leftovers(dir), [], 'neither the ghost nor the private directory is left');
    // the program sees its file as dumped: the setuid mode, the size, the data
    await eventually(() => {
      const after = lines(h.log).slice(n).filter((l) => l.startsWith('tick'));
      assert.ok(after.length >= 2, 'it goes on');
      assert.ok(after.every((l) => / mode=4755 size=6000 data=ok$/.test(l)), after.join('|'));
    });
  } finally {
    killPids([h.pid]);
  }
});

test('a failed restore leaves no ghost file and no private directory; a name in the way is left alone, the ghost takes the next', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-ghost-fail');
  const h = await launch(compile('ghost-setuid', dir), [dir]);
  const d = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
  assert.equal(d.status, 0, d.stderr);
  await dumpedPidsFree([h.pid]);
  // a task fails after the tree is made: the ghost was made, opened and unlinked by then
  const r = spawnSync(process.execPath, [CKPT, 'restore', '-D', join(dir, 'img'), '-d'], { encoding: 'utf8', env: { ...process.env, CKPT_FAULT: 'restore-last-task' } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /injected fault/);
  assert.deepEqual(leftovers(dir), []);
  assert.ok(await waitGone([h.pid], 5000), 'nothing restored');
  // a file already at the ghost's name (another restore's ghost, made at the same time): the ghost is not
  // linked over it but at the next free name, which the task opens
  const { decodeImage } = await import('@ckpt/images');
  const remap = decodeImage(join(dir, 'img', 'remap-fpath.img')).entries[0];
  const name = `suid.bin.cr.${remap.remap_id.toString(16)}.ghost`;
  writeFileSync(join(dir, name), 'not yours');
  const n = lines(h.log).length;
  try {
    assert.equal(restoreOk(join(dir, 'img')), h.pid);
    assert.equal(readFileSync(join(dir, name), 'utf8'), 'not yours');
    assert.deepEqual(leftovers(dir), [name], 'only the file that was there');
    await eventually(() => {
      const after = lines(h.log).slice(n).filter((l) => l.startsWith('tick'));
      assert.ok(after.length >= 2, 'it goes on');
      assert.ok(after.every((l) => / mode=4755 size=6000 data=ok$/.test(l)), after.join('|'));
    });
    assert.match(readlinkSync(`/proc/${h.pid}/fd/3`), /\.cr\.[0-9a-f]+\.1\.ghost \(deleted\)$/);
  } finally {
    killPids([h.pid]);
  }
});
