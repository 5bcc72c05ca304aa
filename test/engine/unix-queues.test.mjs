// Unix socket queues (ZDTM sockets01/02, their -seqpacket forms, socket_close_data): each program checks
// its own sockets after the restore (prints "RESULT PASS" on SIGUSR1). The dump must end (it spun on a
// seqpacket socket whose peer was closed), the restore must not fail on a shut-down pair. Also: files in flight,
// an epoll among them, pending connections, and names whose socket files are gone (deleted, under a FIFO, in
// removed directories, of closed listeners).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '@ckpt/images';
import { CKPT, compile, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, resultOf } from './restore-lib.mjs';

/** ckpt dump, bounded: a dump that does not end within 60 s fails the test instead of hanging it */
export function dumpBounded(pid, img, extra = []) {
  const r = spawnSync(process.execPath, [CKPT, 'dump', '-t', String(pid), '-D', img, ...extra], { encoding: 'utf8', timeout: 60000 });
  assert.notEqual(r.signal, 'SIGTERM', `ckpt dump of ${pid} did not end within 60 s`);
  return r;
}

test('unix sockets whose peer was closed keep their queues, seqpackets end where they ended, shutdown states', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('unix-queues');
  const h = await launch(compile('sock-queues-gone', dir));
  let pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = dumpBounded(h.pid, img);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    const root = restoreOk(img);
    assert.equal(root, h.pid);
    assert.equal(await resultOf(h, root), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});

test('files in flight (SCM_RIGHTS) come back in their queues: pipes, a regular file and its offset, an eventfd, a socket with its queue, one open file description with the task', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('scm-inflight');
  const h = await launch(compile('scm-inflight', dir), [dir]);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = dumpBounded(h.pid, img);
    assert.equal(d.status, 0, d.stderr);
    const q = decodeImage(join(img, 'sk-queues.img')).entries;
    assert.deepEqual(q.map((e) => (e.scm ?? []).map((s) => [s.type, s.rights.length])), [[[1, 1]], [[1, 2]], [[1, 1]], [[1, 1]], [], [[1, 1]]]);
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});

test('an epoll in flight comes back with its target registered under its fd number (data, events, EPOLL_CTL_MOD)', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('scm-epoll');
  const h = await launch(compile('scm-inflight', dir), [dir, 'epoll']);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = dumpBounded(h.pid, img);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});

test('an epoll in flight whose target moved to another fd is refused at dump by name; the tree goes on untouched', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('scm-epoll-moved');
  const h = await launch(compile('scm-inflight', dir), [dir, 'epoll-moved']);
  const pids = sessionPids(h.pid);
  try {
    const d = dumpBounded(h.pid, join(dir, 'img'));
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, new RegExp(`a file in flight to unix socket \\d+ of task ${h.pid} \\(anon_inode:\\[eventpoll\\]\\): an epoll in flight whose target registered as fd \\d+ \\(inode \\d+\\) is not that fd of task ${h.pid}`));
    assert.equal(d.stderr.split('\n').filter((l) => /Error/.test(l)).length, 1, d.stderr);
    assert.doesNotMatch(d.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});

test('a listener with pending connections: they come back pending, in their order, the socket file keeps its mode and group; a relative name is bound in its directory', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('sock-pending');
  const h = await launch(compile('sock-pending', dir), [dir]);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = dumpBounded(h.pid, img);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});

test('sockets whose files are gone: a name now a FIFO, removed directories, accepted connections of closed listeners, a name bound again', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('sock-deleted');
  const cwd = join(dir, 'cwd');
  rmSync(cwd, { recursive: true, force: true });
  mkdirSync(cwd);
  const h = await launch(compile('sock-deleted', dir), [cwd]);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = dumpBounded(h.pid, img);
    assert.equal(d.status, 0, d.stderr);
    const usk = decodeImage(join(img, 'files.img')).entries.filter((e) => e.usk).map((e) => e.usk);
    const deleted = usk.filter((u) => u.deleted).map((u) => Buffer.from(u.name).toString().replace(/\0+$/, '')).sort();
    assert.deepEqual(deleted, ['fifo.sock', 'gone/deeper/dg.sock', 'gone/deeper/st.sock', 'gone/deeper/st.sock', 'live.sock', 'unlinked.sock']);
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img), h.pid);
    assert.deepEqual(readdirSync(cwd).sort(), ['closed.sock', 'fifo.sock', 'live.sock'], 'no directory or parked file left behind');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(pids);
  }
});
