// epoll targets whose registered fd was closed or replaced after EPOLL_CTL_ADD: found again with
// kcmp(KCMP_EPOLL_TFD) among the task's fds, written with the fd that holds them now, and the epoll
// entry goes after the task's other files (CRIU's queued eventpoll entries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { alive, ckpt, compile, kill, launch, needPtrace, pythonCritFailures, eventually, workDir } from './helpers.mjs';
import { decodeAll } from './compare.mjs';

test('epoll targets closed or replaced after registration are found by kcmp; program unchanged after -R', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('epoll-moved');
  const h = await launch(compile('epoll-moved', dir));
  try {
    const m = /e1=(\d+)->(\d+) pipe=(\d+)->(\d+) e2=(\d+)/.exec(h.lines().find((l) => l.startsWith('READY')));
    const [, , e1moved, , pipeMoved, e2] = m.map(Number);
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R', '-v4', '-o', 'dump.log']);
    assert.equal(r.status, 0, r.stderr);
    const n = h.lines().length;
    await eventually(() => {
      assert.ok(alive(h.pid));
      const lines = h.lines();
      assert.ok(lines.length >= n + 2, 'keeps ticking');
      assert.ok(!lines.some((l) => /BAD/.test(l)), lines.filter((l) => /BAD/.test(l)).join('\n'));
    });

    const imgs = await decodeAll(img);
    const files = imgs['files.img'].entries;
    const ep = files.find((e) => e.type === 'EVENTPOLL');
    // fdinfo lists targets in the kernel's rbtree order (by file address): compare by data
    const got = ep.epfd.tfd.map((x) => [x.tfd, x.data]).sort((a, b) => (a[1] < b[1] ? -1 : 1));
    assert.deepEqual(got, [[e1moved, 0xaaaan], [pipeMoved, 0xbbbbn], [e2, 0xccccn]]);
    const fdinfo = imgs['fdinfo-2.img'].entries;
    const kind = (fd) => fdinfo.find((e) => e.fd === fd)?.type;
    assert.deepEqual([e1moved, pipeMoved, e2].map(kind), ['EVENTFD', 'PIPE', 'EVENTFD']);
    assert.equal(files.at(-1).type, 'EVENTPOLL', 'written after the task\'s other files');
    const bad = pythonCritFailures(img);
    if (bad) assert.deepEqual(bad, [], 'Debian crit must decode every image');
  } finally {
    kill(h);
  }
});
