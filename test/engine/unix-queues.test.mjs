// Unix socket queues (ZDTM sockets01/02, their -seqpacket forms, socket_close_data): each program checks
// its own sockets after the restore (prints "RESULT PASS" on SIGUSR1). The dump must end (it spun on a
// seqpacket socket whose peer was closed), the restore must not fail on a shut-down pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

test('an epoll in flight is refused at dump by name; the tree goes on untouched', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('scm-epoll');
  const h = await launch(compile('scm-inflight', dir), [dir, 'epoll']);
  const pids = sessionPids(h.pid);
  try {
    const d = dumpBounded(h.pid, join(dir, 'img'));
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, new RegExp(`a file in flight to unix socket \\d+ of task ${h.pid} \\(anon_inode:\\[eventpoll\\]\\): an epoll in flight`));
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
