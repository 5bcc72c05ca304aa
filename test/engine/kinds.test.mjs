// Per-kind checks of what the dump writes (values, not only structure) for ghost files, the
// misc-fds kinds, seccomp and POSIX timers, and --leave-running of each program: it goes on with
// the same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, CORPUS, kill, launch, needPtrace, pythonCritFailures, eventually, workDir } from './helpers.mjs';
import { decodeAll } from './compare.mjs';

const byType = (imgs, type) => imgs['files.img'].entries.filter((e) => e.type === type);

async function dumpRunning(name, args, opts = {}) {
  const dir = workDir(`kinds-${name}`);
  const h = await launch(compile(name, dir), args === 'dir' ? [dir] : []);
  const img = join(dir, 'img');
  const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R', ...(opts.extra ?? [])]);
  return { dir, h, img, r };
}

/** After a --leave-running dump the program keeps logging, and `check` holds on its new lines. */
async function goesOn(h, check) {
  const before = h.lines().length;
  await eventually(() => {
    assert.ok(alive(h.pid), 'still alive');
    const fresh = h.lines().slice(before);
    assert.ok(fresh.length >= 2, 'keeps logging');
    for (const l of fresh.filter((x) => x.startsWith('tick'))) check(l);
  });
}

test('ghost files: small ones unchunked, a sparse 36 KiB one chunked by SEEK_DATA/SEEK_HOLE; program unchanged', async (t) => {
  if (!needPtrace(t)) return;
  const { h, img, r } = await dumpRunning('ghost-big', 'dir');
  try {
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeAll(img);
    const remap = imgs['remap-fpath.img'].entries;
    assert.equal(remap.length, 1);
    assert.equal(remap[0].remap_type, 'GHOST');
    const reg = imgs['files.img'].entries.find((e) => e.id === remap[0].orig_id).reg;
    assert.match(reg.name, /big-ghost\.bin$/);
    assert.equal(Number(reg.pos), 777);
    const g = imgs[`ghost-file-${remap[0].remap_id.toString(16)}.img`].entries;
    assert.equal(g[0].chunks, true);
    assert.equal(Number(g[0].size), 36864);
    assert.equal(g[0].mode & 0o777, 0o600);
    const chunks = g.slice(1).map((c) => [Number(c.off), Number(c.len)]);
    // data only where written: [0,4096) and [32768,36864) (filesystems may round to their block size)
    assert.ok(chunks.length >= 2, JSON.stringify(chunks));
    assert.equal(chunks[0][0], 0);
    assert.ok(chunks.every(([o, l]) => o + l <= 36864));
    assert.ok(!chunks.some(([o, l]) => o <= 20000 && 20000 < o + l), 'the hole is not stored');
    const first = g[1].extra;
    assert.equal(first.subarray(0, 4096).toString(), 'A'.repeat(4096));
    const last = g[g.length - 1];
    assert.equal(last.extra.subarray(Number(last.len) - 1).toString(), 'Z');
    assert.deepEqual(pythonCritFailures(img) ?? [], []);
    await goesOn(h, (l) => assert.match(l, /pos=777 data=AZ hole=0/));
  } finally {
    kill(h);
  }
});

test('files: ghost contents and offsets as CRIU 4.2 wrote them; program unchanged after -R', async (t) => {
  if (!needPtrace(t)) return;
  const { h, img, r } = await dumpRunning('files', 'dir');
  try {
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeAll(img);
    const regs = new Map(byType(imgs, 'REG').map((e) => [e.id, e.reg]));
    const ghosts = imgs['remap-fpath.img'].entries.map((m) => {
      const reg = regs.get(m.orig_id);
      const g = imgs[`ghost-file-${m.remap_id.toString(16)}.img`].entries[0];
      return [reg.name.replace(/.*\//, ''), Number(reg.pos), Number(reg.size), g.mode, g.extra.length, g.chunks ?? false];
    });
    assert.deepEqual(ghosts, [['ghost.txt', 100, 3000, 0o100600, 3000, false], ['ghost-ro.txt', 4999, 5000, 0o100444, 5000, false]]);
    const ref = join(CORPUS, 'files');
    if (existsSync(ref)) {
      const theirs = await decodeAll(ref);
      for (const i of [1, 2]) {
        assert.deepEqual(imgs[`ghost-file-${i}.img`].entries[0].extra, theirs[`ghost-file-${i}.img`].entries[0].extra, `ghost ${i} data`);
      }
    }
    await goesOn(h, (l) => assert.match(l, /ro_pos=12345 wo_pos=5000 rw_pos=4113 ghost_pos=100 ghost\[0\.\.4\]=GHIJ/));
  } finally {
    kill(h);
  }
});

test('misc-fds: eventfd, timerfds, signalfd, epoll targets, inotify watches, memfd inodes, POSIX timer; program unchanged after -R', async (t) => {
  if (!needPtrace(t)) return;
  const { dir, h, img, r } = await dumpRunning('misc-fds', 'dir');
  try {
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeAll(img);
    assert.equal(Number(byType(imgs, 'EVENTFD')[0].efd.counter), 5);
    assert.deepEqual(byType(imgs, 'TIMERFD').map((e) => [e.tfd.clockid, Number(e.tfd.isec)]), [[1, 1], [7, 3600]]);
    assert.equal(BigInt(byType(imgs, 'SIGNALFD')[0].sgfd.sigmask), 0xa00n);
    const ep = byType(imgs, 'EVENTPOLL')[0].epfd.tfd.map((x) => [x.tfd, x.events, Number(x.data)]).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(ep, [[3, 0x19, 0x1111], [4, 0x1b, 0x3333], [6, 0x80000019, 0x2222]]);
    const wds = byType(imgs, 'INOTIFY')[0].ify.wd.map((w) => [w.wd, w.mask, w.f_handle.path]).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(wds, [[1, 0x300, dir], [2, 0xa, join(dir, 'watched.txt')]]);
    // memfd.img lists them in the order of their mappings, which is where mmap put them: sorted
    const inodes = imgs['memfd.img'].entries.map((m) => [m.name, Number(m.size), m.seals, m.mode]).sort();
    assert.deepEqual(inodes, [['/dev/zero', 65536, 1, 0o100777], ['corpus-memfd', 8192, 2, 0o100777]]);
    for (const m of imgs['memfd.img'].entries) {
      const pm = imgs[`pagemap-shmem-${m.shmid}.img`].entries;
      assert.equal(pm.slice(1).reduce((n, e) => n + Number(e.nr_pages), 0), Number(m.size) / 4096);
    }
    const memfdFd = byType(imgs, 'MEMFD').find((e) => Number(e.memfd.pos) === 8192);
    assert.ok(memfdFd, 'the memfd fd keeps its offset');
    const root = imgs['pstree.img'].entries[0].pid;
    const posix = imgs[`core-${root}.img`].entries[0].tc.timers.posix;
    assert.equal(posix.length, 1);
    assert.deepEqual([posix[0].clock_id, posix[0].it_sigev_notify, Number(posix[0].isec)], [1, 1, 10]);
    assert.deepEqual(pythonCritFailures(img) ?? [], []);
    let last = -1;
    await goesOn(h, (l) => {
      const m = /shm_counter=(\d+) timerfd_fires=\d+ memfd\[0\]=M/.exec(l);
      assert.ok(m, l);
      assert.ok(Number(m[1]) >= last, 'the shared counter goes on');
      last = Number(m[1]);
    });
  } finally {
    kill(h);
  }
});

test('proc-state: seccomp filter (same bytes as CRIU 4.2), filter mode with its index; program unchanged after -R', async (t) => {
  if (!needPtrace(t)) return;
  const { h, img, r } = await dumpRunning('proc-state', 'none');
  try {
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeAll(img);
    const filters = imgs['seccomp.img'].entries[0].seccomp_filters;
    assert.equal(filters.length, 1);
    assert.equal(filters[0].flags, 1, 'TSYNC, as CRIU marks a process whose threads share the chain');
    const tc = imgs[`core-${h.pid}.img`].entries[0].thread_core;
    assert.equal(tc.seccomp_mode, 'filter');
    assert.equal(tc.seccomp_filter, 0);
    const ref = join(CORPUS, 'proc-state', 'ref', 'seccomp.img.plain.json');
    if (existsSync(ref)) {
      const theirs = JSON.parse(readFileSync(ref, 'utf8')).entries[0].seccomp_filters[0];
      assert.equal(Buffer.from(filters[0].filter).toString('base64'), theirs.filter.replace(/\n/g, ''));
    }
    assert.deepEqual(pythonCritFailures(img) ?? [], []);
    await goesOn(h, (l) => assert.match(l, /uname=-1\/Operation not permitted umask=027 nice=5/));
  } finally {
    kill(h);
  }
});

test('a zombie child is dumped as TASK_DEAD with its exit code (core only); the tree goes on after -R', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('kinds-zombie');
  const h = await launch(compile('zombie', dir));
  try {
    const zombie = Number(/zombie=(\d+)/.exec(h.lines().find((l) => l.startsWith('READY')))[1]);
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R']);
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeAll(img);
    assert.deepEqual(imgs['pstree.img'].entries.map((p) => [p.ppid === 0 ? 'root' : 'child', p.threads.length]), [['root', 1], ['child', 1], ['child', 1]]);
    const core = imgs[`core-${zombie}.img`].entries[0];
    assert.deepEqual(core.tc && [core.tc.task_state, core.tc.exit_code], [2, 7 << 8]);
    assert.equal(core.thread_info, undefined);
    assert.equal(imgs[`ids-${zombie}.img`], undefined, 'a zombie has no ids/mm/fds');
    assert.deepEqual(pythonCritFailures(img) ?? [], []);
    await goesOn(h, () => {});
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'the zombie stays a zombie');
  } finally {
    kill(h);
  }
});
