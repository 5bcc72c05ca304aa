// File leases and locks held through a shared open file (src/files.ts collectLocks): a lease or flock is per open
// file (filelocks.img FL_LEASE 8, one entry per open file even on one inode), a flock belongs to the task that
// still holds the file (the parent that took it closed its fd). Restored with --file-locks, twice; the program
// checks itself (progs/lease-hold.c). Without --file-locks the dump refuses, naming the fd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, decodeDir, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, eventually, killPids, lines, restoreOk, until } from './restore-lib.mjs';

const FL_FLOCK = 2, FL_LEASE = 8, F_RDLCK = 0, F_WRLCK = 1;

test('leases and a flock held by a child: dumped per open file and holder, restored with --file-locks, twice', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('locks-lease');
  const h = await launch(compile('lease-hold', dir), [dir]);
  const m = /child=(\d+) rd=(\d+),(\d+),(\d+) wr=(\d+)/.exec(h.lines().find((l) => l.startsWith('READY')));
  const [child, r0, r1, r2, w] = m.slice(1).map(Number);
  let pids = sessionPids(h.pid).sort((a, b) => a - b);
  try {
    const refused = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'refused'), '-R']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /fd \d+ of task \d+ .*(LEASE|FLOCK) .* lock; use --file-locks/);
    for (const round of [1, 2]) {
      await until(() => h.lines().filter((l) => /^tick/.test(l)).length >= 2, 5000, 'ticks before the dump');
      const img = join(dir, `img${round}`);
      const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--file-locks']);
      assert.equal(d.status, 0, `dump ${round}: ${d.stderr}`);
      const locks = (await decodeDir(img))['filelocks.img'].entries.map((e) => [e.flag, e.type, e.pid, e.fd]);
      const sort = (x) => [...x].sort((p, q) => p[3] - q[3] || p[2] - q[2] || p[0] - q[0]);
      const childFlock = locks.find((l) => l[0] === FL_FLOCK && l[2] === child)?.[3];
      assert.deepEqual(sort(locks), sort([[FL_LEASE, F_RDLCK, h.pid, r0], [FL_LEASE, F_RDLCK, h.pid, r2], [FL_LEASE, F_WRLCK, h.pid, w],
        [FL_FLOCK, F_RDLCK, h.pid, r1], [FL_FLOCK, F_RDLCK, h.pid, r2], [FL_FLOCK, F_WRLCK, child, childFlock]]));
      await dumpedPidsFree(pids);
      const before = lines(h.log).length;
      assert.equal(restoreOk(img, ['--file-locks']), h.pid);
      const now = sessionPids(h.pid).sort((a, b) => a - b);
      assert.deepEqual(now, pids, 'parent and child are back with their PIDs');
      pids = now;
      await eventually(() => {
        const after = lines(h.log).slice(before).filter((l) => l.startsWith('tick'));
        assert.ok(after.length >= 2, 'ticks after the restore');
        assert.ok(after.every((l) => l.endsWith('leases=rd,none,rd,wr flock_held=yes')), after.join('|'));
      });
      // both shared flocks of rd.dat are back, each on its own open file
      for (const fd of [r1, r2]) assert.match(readFileSync(`/proc/${h.pid}/fdinfo/${fd}`, 'utf8'), /^lock:\s+\d+: FLOCK\s+ADVISORY\s+READ /m, `fd ${fd}`);
    }
  } finally {
    killPids(sessionPids(h.pid));
  }
});
