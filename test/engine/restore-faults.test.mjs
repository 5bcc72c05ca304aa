// Restore failures: one clear error naming the task and the resource, non-zero exit, no task left
// running, the images untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, renameSync, truncateSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CKPT, ckpt, compile, launch, needPtrace, sessionPids, sleep, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, waitGone } from './restore-lib.mjs';

function digest(dir) {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.img')) continue;
    h.update(f);
    h.update(readFileSync(join(dir, f)));
  }
  return h.digest('hex');
}

/** a dumped program: {dir, img, pids, prog} with the tree gone */
async function dumped(name, flags = [], args = () => []) {
  const dir = workDir(`restore-fault-${name}`);
  const prog = compile(name, dir, flags);
  const h = await launch(prog, args(dir));
  const pids = sessionPids(h.pid);
  const img = join(dir, 'img');
  const r = ckpt(['dump', '-t', String(h.pid), '-D', img]);
  assert.equal(r.status, 0, r.stderr);
  await dumpedPidsFree(pids);
  return { dir, img, pids, prog, h };
}

function failing(img, env = {}) {
  const r = spawnSync(process.execPath, [CKPT, 'restore', '-D', img, '-d'], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.notEqual(r.status, 0, 'restore must fail');
  const errors = r.stderr.split('\n').filter((l) => /Error:/.test(l));
  assert.ok(errors.length >= 1, r.stderr);
  return errors.join('\n');
}

test('restore fails cleanly: truncated pages image', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('loop-static', ['-static']);
  const pages = readdirSync(d.img).find((f) => /^pages-\d+\.img$/.test(f));
  truncateSync(join(d.img, pages), statSync(join(d.img, pages)).size - 4096);
  const before = digest(d.img);
  const err = failing(d.img);
  assert.match(err, new RegExp(`task ${d.pids[0]}.*${pages}.*truncated`));
  assert.equal(digest(d.img), before, 'images untouched');
  assert.ok(await waitGone(d.pids, 500), 'nothing left running');
});

test('restore fails cleanly: PID in use', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-fault-pid');
  const prog = compile('loop-static', dir, ['-static']);
  const h = await launch(prog);
  try {
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '--leave-running']);
    assert.equal(r.status, 0, r.stderr);
    const before = digest(img);
    const err = failing(img);
    assert.match(err, new RegExp(`task ${h.pid}: PID ${h.pid} is in use`));
    assert.equal(digest(img), before);
    assert.deepEqual(sessionPids(h.pid), [h.pid], 'only the original process');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('restore fails cleanly: missing file', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('loop-static', ['-static']);
  renameSync(d.prog, `${d.prog}.moved`);
  const err = failing(d.img);
  assert.match(err, new RegExp(`task ${d.pids[0]} exe: file ${d.prog} is missing`));
  renameSync(`${d.prog}.moved`, d.prog);
  renameSync(d.h.log, `${d.h.log}.moved`);
  const err2 = failing(d.img);
  assert.match(err2, new RegExp(`task ${d.pids[0]} fd 1: file ${d.h.log}: missing`));
  assert.ok(await waitGone(d.pids, 500));
});

test('restore fails cleanly: corrupt core image', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('loop-static', ['-static']);
  const core = join(d.img, `core-${d.pids[0]}.img`);
  const b = readFileSync(core);
  b.writeUInt32LE(0xffffff, 8); // absurd entry length
  const { writeFileSync } = await import('node:fs');
  writeFileSync(core, b);
  const err = failing(d.img);
  assert.match(err, new RegExp(`task ${d.pids[0]}: corrupt image core-${d.pids[0]}.img`));
  assert.ok(await waitGone(d.pids, 500));
});

test('restore fails cleanly: a task fails after the tree is forked -> every task is killed', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('tree-pipes');
  const err = failing(d.img, { CKPT_FAULT: 'restore-last-task' });
  assert.match(err, /task \d+: injected fault/);
  await sleep(100);
  assert.ok(await waitGone(d.pids, 1000), `no task of ${d.pids} left`);
});

test('restore fails cleanly: ghost file data of another size; a failure after the ghosts are made removes them', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('files', [], (dir) => [dir]);
  const cwd = readdirSync(d.dir).find((f) => f.startsWith('tmpdir.'));
  const ghosts = () => readdirSync(join(d.dir, cwd)).filter((f) => f.includes('.ghost'));
  const before = digest(d.img);
  const err = failing(d.img, { CKPT_FAULT: 'restore-last-task' });
  assert.match(err, /task \d+: injected fault/);
  assert.deepEqual(ghosts(), [], 'no ghost file left on disk');
  assert.equal(digest(d.img), before, 'images untouched');
  assert.ok(await waitGone(d.pids, 1000));
  // a ghost image whose data is shorter than the file the dump recorded
  const g = readdirSync(d.img).find((f) => /^ghost-file-\d+\.img$/.test(f));
  truncateSync(join(d.img, g), statSync(join(d.img, g)).size - 10);
  const cut = digest(d.img);
  const err2 = failing(d.img);
  assert.match(err2, new RegExp(`task ${d.pids[0]} fd \\d+: .*${g}`));
  assert.deepEqual(ghosts(), []);
  assert.equal(digest(d.img), cut, 'images untouched');
});

test('restore fails cleanly: truncated shared memory pages (misc-fds), --inherit-fd of a closed fd', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('misc-fds', [], (dir) => [dir]);
  const before = digest(d.img);
  const r = spawnSync(process.execPath, [CKPT, 'restore', '-D', d.img, '-d', '--inherit-fd', 'fd[7]:/nonexistent'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--inherit-fd fd\[7\]:\/nonexistent: no restored file is \/nonexistent/);
  const { decodeImage } = await import('@ckpt/images');
  const shm = readdirSync(d.img).find((f) => /^pagemap-shmem-\d+\.img$/.test(f));
  const pagesId = decodeImage(join(d.img, shm)).entries[0].pages_id;
  const pages = join(d.img, `pages-${pagesId}.img`);
  assert.equal(digest(d.img), before);
  truncateSync(pages, statSync(pages).size - 4096);
  const cut = digest(d.img);
  const err = failing(d.img);
  assert.match(err, new RegExp(`pages-${pagesId}\\.img is \\d+ bytes, ${shm} needs \\d+ \\(truncated pages image\\)`));
  assert.equal(digest(d.img), cut, 'images untouched');
  assert.ok(await waitGone(d.pids, 500), 'nothing left running');
});

test('restore fails cleanly: a unix socket path taken by a regular file is left alone', async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('unix-sockets', [], (dir) => [dir]);
  const path = join(d.dir, 'stream.sock');  // the dumped listener's name
  unlinkSync(path);
  writeFileSync(path, 'not a socket\n', { mode: 0o640 });
  const st = statSync(path);
  const before = digest(d.img);
  let err;
  try {
    err = failing(d.img);
  } catch (e) {
    killPids(d.pids);  // restored over the file: do not leave the tree running
    throw e;
  }
  const re = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(err, new RegExp(`task (${d.pids.join('|')}) fd \\d+ \\(unix socket:\\[\\d+\\] "${re(path)}"\\): ${re(path)} exists and is not a socket`));
  const after = statSync(path);
  assert.deepEqual([after.ino, after.mode, after.size, after.mtimeMs], [st.ino, st.mode, st.size, st.mtimeMs], 'the file is untouched');
  assert.equal(readFileSync(path, 'utf8'), 'not a socket\n');
  assert.equal(digest(d.img), before, 'images untouched');
  assert.ok(await waitGone(d.pids, 500), 'nothing left running');
});
