// Kernel AIO contexts (src/aio.ts, native/restore/aio-blob.h): each ring is a VMA of status AIORING (MAP_SHARED,
// every page dumped) and an mm.img `aios` entry, as CRIU 4.2 writes them; the restore makes the rings again at
// their addresses with their head, tail and unread events. The program checks itself (progs/aio-rings.c).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, decodeDir, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, eventually, killPids, lines, restoreOk, until } from './restore-lib.mjs';

const AIORING = 1 << 13, MAP_SHARED = 1;

test('AIO rings: dumped as CRIU does, restored with head, tail and unread events, twice', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('aio-rings');
  const h = await launch(compile('aio-rings', dir), [dir]);
  const pids = [h.pid];
  try {
    const m = /a=([0-9a-f]+) b=([0-9a-f]+) nr=(\d+) head=(\d+) tail=(\d+)/.exec(h.lines().find((l) => l.startsWith('READY')));
    const [a, b] = [BigInt('0x' + m[1]), BigInt('0x' + m[2])];
    assert.ok(Number(m[5]) < Number(m[4]), 'ring A has wrapped: tail behind head');
    let prev;
    for (const round of [1, 2]) {
      await until(() => h.lines().filter((l) => /^tick/.test(l)).length >= 2, 5000, 'ticks before the dump');
      const img = join(dir, `img${round}`);
      const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
      assert.equal(d.status, 0, `dump ${round}: ${d.stderr}`);
      const mm = (await decodeDir(img))[`mm-${h.pid}.img`].entries[0];
      const rings = mm.vmas.filter((v) => Number(v.status) === AIORING);
      assert.deepEqual(rings.map((v) => BigInt(v.start)).sort(), [a, b].sort(), 'one AIORING VMA per ring');
      for (const v of rings) {
        assert.deepEqual([v.flags, v.fd, v.fdflags, v.shmid, v.pgoff].map(Number), [MAP_SHARED, -1, 2, 0, 0]);
      }
      const aios = mm.aios.map((e) => ({ id: BigInt(e.id), nr_req: Number(e.nr_req), ring_len: Number(e.ring_len) }));
      // nr_req: what io_setup needs to make a ring of that length again (the kernel doubles it and adds 2)
      const want = rings.map((v) => {
        const len = Number(BigInt(v.end) - BigInt(v.start));
        return { id: BigInt(v.start), nr_req: Math.floor((Math.floor((len - 32) / 32) - 2) / 2), ring_len: len };
      });
      assert.deepEqual(aios, want);
      if (prev) assert.deepEqual(aios, prev, 'the restored rings dump the same');
      prev = aios;
      await dumpedPidsFree(pids);
      assert.equal(restoreOk(img), h.pid);
    }
    const before = lines(h.log).length;
    process.kill(h.pid, 'SIGUSR1');
    await eventually(() => {
      const c = lines(h.log).slice(before).find((l) => l.startsWith('CHECK'));
      assert.equal(c, 'CHECK ok');
    });
  } finally {
    killPids(sessionPids(h.pid));
  }
});

