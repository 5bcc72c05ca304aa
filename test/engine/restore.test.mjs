// zdtm-style restore tests on our own dumps: each program is started, dumped (killed), restored with
// `ckpt restore -d`, checked for its own state (same PIDs, counters go on, memory pattern ok, threads run,
// pipe contents), then dumped again from the restored state and restored a second time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, decodeDir, launch, needPtrace, sessionPids, sleep, workDir } from './helpers.mjs';
import { dumpedPidsFree, eventually, filesCheck, killPids, locksCheck, miscFdsCheck, procStateCheck, lines, restoreOk, stat, threadsOf, ticks, until, waitGone } from './restore-lib.mjs';

const CASES = [
  {
    name: 'loop-static', flags: ['-static'],
    check(before, after) {
      const b = ticks(before), a = ticks(after);
      assert.ok(a.length >= 2, 'ticks after restore');
      assert.equal(a[0], b.at(-1) + 1, 'the counter continues where it was dumped');
      a.forEach((v, i) => i && assert.equal(v, a[i - 1] + 1));
    },
  },
  {
    name: 'loop-dynamic',
    check(before, after) {
      const a = after.filter((l) => l.startsWith('tick'));
      assert.ok(a.length >= 2);
      assert.ok(a.every((l) => l.endsWith('pattern=ok')), `memory pattern after restore: ${a.join('|')}`);
      assert.equal(ticks(a)[0], ticks(before).at(-1) + 1);
    },
  },
  {
    name: 'threads',
    check(before, after, pids) {
      assert.equal(threadsOf(pids[0]), 5, 'leader + 4 workers');
      const names = readdirSync(`/proc/${pids[0]}/task`).map((t) => readFileSync(`/proc/${pids[0]}/task/${t}/comm`, 'utf8').trim()).sort();
      assert.deepEqual(names, ['threads', 'worker-0', 'worker-1', 'worker-2', 'worker-3']);
      const re = /c0=(\d+) c1=(\d+) c2=(\d+) c3=(\d+)/;
      const last = re.exec(before.filter((l) => re.test(l)).at(-1)).slice(1).map(Number);
      const now = re.exec(after.filter((l) => re.test(l)).at(-1)).slice(1).map(Number);
      now.forEach((v, i) => assert.ok(v > last[i], `worker ${i} runs after restore (${last[i]} -> ${v})`));
      // TLS survived: each worker's counter stays in its own thousand
      now.forEach((v, i) => assert.equal(Math.floor(v / 1000), i + 1));
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
    },
  },
  {
    name: 'tree-pipes',
    check(before, after, pids) {
      const [root, c1, c2] = pids;
      assert.deepEqual([stat(c1).ppid, stat(c2).ppid], [root, root], 'children of the restored parent');
      assert.equal(stat(c2).pgid, c2, 'child2 leads its own group');
      assert.equal(stat(c1).pgid, root);
      assert.ok([root, c1, c2].every((p) => stat(p).sid === root));
      const re = /^parent got: child1 tick (\d+)/;
      const a = ticks(after, re), b = ticks(before, re);
      assert.ok(a.length >= 2, 'child1 -> parent pipe works after restore');
      assert.ok(a[0] >= b.at(-1) && a[0] <= b.at(-1) + 1, `ticks go on (${b.at(-1)} -> ${a[0]})`);
    },
    async compare(img1, img2) {
      // the unread pipe contents are the same in the dump taken after the restore
      const d1 = await decodeDir(img1), d2 = await decodeDir(img2);
      const data = (d) => (d['pipes-data.img']?.entries ?? []).map((e) => e.extra.toString('latin1')).filter((s) => s.length).sort();
      assert.deepEqual(data(d2), data(d1));
      assert.ok(data(d1).some((s) => s.length === 3000) && data(d1).some((s) => s === 'P'.repeat(100)));
    },
  },
  {
    name: 'unix-sockets', args: (dir) => [dir],
    check(before, after, pids) {
      const re = /^server got: client tick (\d+)/;
      const a = ticks(after, re), b = ticks(before, re);
      assert.ok(a.length >= 2, 'the accepted connection carries data after restore');
      assert.ok(a[0] >= b.at(-1) && a[0] <= b.at(-1) + 1, `ticks go on (${b.at(-1)} -> ${a[0]})`);
      assert.equal(stat(pids[1]).ppid, pids[0]);
    },
    async compare(img1, img2) {
      // every queued message (pairs both ways, datagrams, seqpackets) is still queued after the restore; the
      // client's live ticks are not compared: one in flight at the first dump is read before the second
      const d1 = await decodeDir(img1), d2 = await decodeDir(img2);
      const q = (d) => (d['sk-queues.img']?.entries ?? []).map((e) => e.extra.toString('latin1')).filter((m) => !/^client tick \d+\n$/.test(m)).sort();
      assert.ok(q(d1).length >= 10, q(d1).join('|'));
      assert.deepEqual(q(d2), q(d1));
    },
  },
  {
    name: 'files', args: (dir) => [dir],
    check(before, after, pids) {
      // the program reports its own offsets and reads its ghost file (pread at 0) on every tick
      const re = /^tick \d+ (ro_pos=\d+ wo_pos=\d+ rw_pos=\d+ ghost_pos=\d+ ghost\[0\.\.4\]=\S+)$/;
      const a = after.map((l) => re.exec(l)?.[1]).filter(Boolean);
      assert.ok(a.length >= 2, after.join('|'));
      assert.ok(a.every((s) => s === 'ro_pos=12345 wo_pos=5000 rw_pos=4113 ghost_pos=100 ghost[0..4]=GHIJ'), a.join('|'));
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      filesCheck(pids[0]);
    },
  },
  {
    name: 'fifo-locks', args: (dir) => [dir], dumpArgs: ['--file-locks'], restoreArgs: ['--file-locks'],
    check(before, after, pids) {
      const a = after.filter((l) => l.startsWith('tick'));
      assert.ok(a.length >= 2 && a.every((l) => l.endsWith('ofd_lock_seen=yes')), a.join('|'));
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      locksCheck(pids[0]);
    },
    async compare(img1, img2) {
      // the unread FIFO data, the locks and the pipe's signal owner are all in the dump taken after the restore
      const d1 = await decodeDir(img1), d2 = await decodeDir(img2);
      const fifo = (d) => d['fifo-data.img'].entries.map((e) => e.extra.toString('latin1'));
      assert.deepEqual(fifo(d2), fifo(d1));
      assert.deepEqual(fifo(d1), ['F'.repeat(500)]);
      const locks = (d) => d['filelocks.img'].entries.map((e) => [e.flag, e.type, e.start, e.len, e.fd].join(':')).sort();
      assert.deepEqual(locks(d2), locks(d1));
      const fown = (d) => d['files.img'].entries.filter((e) => e.pipe).map((e) => JSON.stringify([e.pipe.flags, e.pipe.fown])).sort();
      assert.deepEqual(fown(d2), fown(d1));
    },
  },
  {
    name: 'proc-state',
    check(before, after, pids) {
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      procStateCheck(pids[0], after);
    },
  },
  {
    name: 'misc-fds', args: (dir) => [dir],
    check(before, after, pids) {
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      miscFdsCheck(pids, after);
    },
  },
  {
    name: 'restore-creds-threads',
    check(before, after, pids) {
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      const tasks = readdirSync(`/proc/${pids[0]}/task`);
      assert.equal(tasks.length, 3);
      for (const tid of tasks) {
        const eff = BigInt('0x' + /^CapEff:\s+(\S+)/m.exec(readFileSync(`/proc/${pids[0]}/task/${tid}/status`, 'utf8'))[1]);
        assert.equal(eff & (1n << 13n), 0n, `thread ${tid} is without CAP_NET_RAW, as dumped`);
      }
    },
  },
  {
    name: 'ghost-big', args: (dir) => [dir],
    check(before, after, pids) {
      // a sparse chunked ghost: same offset, data at both ends and the hole between (the program looks itself)
      const rest = (l) => l.replace(/^tick \d+ /, '');
      const a = after.filter((l) => l.startsWith('tick'));
      assert.ok(a.length >= 2);
      assert.ok(a.every((l) => rest(l) === rest(before.filter((x) => x.startsWith('tick')).at(-1))), `${before.at(-1)} -> ${a.join('|')}`);
      assert.match(a[0], /data=AZ/);
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      assert.match(readlinkSync(`/proc/${pids[0]}/fd/3`), /big-ghost\.bin.* \(deleted\)$/);
    },
  },
  {
    name: 'zombie',
    check(before, after, pids) {
      // the zombie is back as a zombie of the root, with its exit code; the other child runs
      assert.equal(ticks(after)[0], ticks(before).at(-1) + 1);
      const states = pids.slice(1).map((p) => {
        const st = readFileSync(`/proc/${p}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return { p, state: f[0], ppid: Number(f[1]), exit: Number(f.at(-1)) };
      });
      const z = states.filter((x) => x.state === 'Z');
      assert.equal(z.length, 1, JSON.stringify(states));
      assert.equal(z[0].ppid, pids[0]);
      assert.equal(z[0].exit, 7 << 8, 'exit code 7');
      assert.ok(states.some((x) => x.state !== 'Z' && x.ppid === pids[0]), JSON.stringify(states));
    },
  },
  {
    name: 'restore-ghost-map', args: (dir) => [dir],
    check(before, after, pids) {
      // the deleted file comes back with its contents (counter included), shared by the MAP_SHARED view and
      // read through the untouched MAP_PRIVATE one; nothing of it is left on disk
      const re = /^tick (\d+) counter=(\d+) private_sees=(\d+) pattern=(\w+)$/;
      const a = after.map((l) => re.exec(l)).filter(Boolean), b = before.map((l) => re.exec(l)).filter(Boolean);
      assert.ok(a.length >= 2);
      assert.equal(Number(a[0][1]), Number(b.at(-1)[1]) + 1);
      assert.ok(a.every((x) => x[2] === x[1] && x[3] === x[1] && x[4] === 'ok'), after.join('|'));
      const maps = readFileSync(`/proc/${pids[0]}/maps`, 'utf8').split('\n').filter((l) => /mapped\.bin/.test(l));
      assert.equal(maps.length, 2, maps.join('\n'));
      assert.ok(maps.every((l) => / \(deleted\)$/.test(l)));
      assert.deepEqual(readdirSync(readlinkSync(`/proc/${pids[0]}/cwd`)).filter((f) => f.includes('mapped')), []);
    },
  },
];

for (const c of CASES) {
  test(`restore ${c.name}: dump, restore, check, dump again, restore again`, async (t) => {
    if (!needPtrace(t)) return;
    const dir = workDir(`restore-${c.name}`);
    const prog = compile(c.name, dir, c.flags ?? []);
    const h = await launch(prog, c.args ? c.args(dir) : []);
    let pids = sessionPids(h.pid).sort((a, b) => a - b);
    try {
      await until(() => h.lines().filter((l) => /tick \d+/.test(l)).length >= 2, 5000, 'two ticks before the dump');
      let imgPrev;
      for (const round of [1, 2]) {
        const img = join(dir, `img${round}`);
        const d = ckpt(['dump', '-t', String(h.pid), '-D', img, ...(c.dumpArgs ?? [])]);
        assert.equal(d.status, 0, `dump ${round}: ${d.stderr}`);
        await dumpedPidsFree(pids);
        const before = lines(h.log);
        const root = restoreOk(img, c.restoreArgs ?? []);
        assert.equal(root, h.pid, 'the root comes back with its PID');
        const now = sessionPids(h.pid).sort((a, b) => a - b);
        assert.deepEqual(now, pids, 'every task is back with its PID');
        await eventually(() => c.check(before, lines(h.log).slice(before.length), pids));
        if (imgPrev && c.compare) await c.compare(imgPrev, img);
        imgPrev = img;
        pids = now;
      }
    } finally {
      killPids(sessionPids(h.pid));
    }
  });
}

test('restore a group-stopped task: it comes back stopped, and goes on after SIGCONT', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-stopped');
  const prog = compile('loop-static', dir, ['-static']);
  const h = await launch(prog);
  try {
    process.kill(h.pid, 'SIGSTOP');
    await until(() => stat(h.pid).state === 'T', 5000, 'the group stop');
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree([h.pid]);
    const n = lines(h.log).length;
    assert.equal(restoreOk(img), h.pid);
    assert.equal(stat(h.pid).state, 'T', 'stopped, as dumped');
    // a running loop-static ticks every 250 ms: two ticks would be there after 600 ms
    await sleep(600);
    assert.equal(stat(h.pid).state, 'T', 'still stopped');
    assert.equal(lines(h.log).length, n, `no tick while stopped: ${lines(h.log).join('|')}`);
    process.kill(h.pid, 'SIGCONT');
    await eventually(() => {
      const after = ticks(lines(h.log).slice(n));
      assert.ok(after.length >= 2 && after[0] === ticks(lines(h.log).slice(0, n)).at(-1) + 1, `${after}`);
    });
  } finally {
    killPids([h.pid]);
    await waitGone([h.pid]);
  }
});

test('bin/ckpt restore (startup snapshot) restores like the modules', async (t) => {
  if (!needPtrace(t)) return;
  const { existsSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const { ROOT } = await import('./helpers.mjs');
  const blob = join(ROOT, 'packages/engine/dist/ckpt.blob');
  if (!existsSync(blob)) {
    if (process.env.CI) assert.fail(`no startup snapshot at ${blob} (npm run build makes it)`);
    t.skip('no startup snapshot built');
    return;
  }
  const dir = workDir('restore-snapshot');
  const prog = compile('loop-static', dir, ['-static']);
  const h = await launch(prog);
  try {
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree([h.pid]);
    const n = lines(h.log).length;
    const pidfile = join(dir, 'pid');
    const r = spawnSync(join(ROOT, 'packages/engine/bin/ckpt'), ['restore', '-D', img, '-d', '--pidfile', pidfile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(Number(readFileSync(pidfile, 'utf8')), h.pid);
    await eventually(() => {
      const after = ticks(lines(h.log).slice(n));
      assert.ok(after.length >= 1 && after[0] === ticks(lines(h.log).slice(0, n)).at(-1) + 1, `${after}`);
    });
  } finally {
    killPids([h.pid]);
    await waitGone([h.pid]);
  }
});
