// Restoring CRIU 4.2's own dumps (../shared/corpus): the exact binaries go back to the paths the images
// record (/tmp/corpus-src/<case>/), the run dirs (/tmp/corpus-run/<case>/ with out.log) are created. The
// images keep the PIDs of the machine CRIU ran on, which anything here may hold: each case is restored in a
// fresh PID namespace (pidNamespace), must come back with its PIDs and keep running correctly; some are
// then dumped by us and restored again there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { CORPUS, needPtrace, sleep, workDir } from './helpers.mjs';
import { corpusOrSkip } from '../lib/corpus.mjs';
import { filesCheck, holders, killPids, locksCheck, miscFdsCheck, eventually, pidNamespaceOrSkip, procStateCheck, lines, restoreOk, stat, threadsOf, ticks, until, waitGone } from './restore-lib.mjs';

/** The data files CRIU's `files` images refer to, as src.c made them (sizes are checked on restore). */
const FILES_DIR = '/tmp/corpus-run/files/tmpdir.iTW10n';
function filesData() {
  const fill = (n, base) => Buffer.from(Array.from({ length: n }, (_, i) => base.charCodeAt(0) + ((i % 4096) % 26)));
  rmSync(FILES_DIR, { recursive: true, force: true });
  mkdirSync(join(FILES_DIR, 'sub'), { recursive: true, mode: 0o700 });
  writeFileSync(join(FILES_DIR, 'ro.txt'), fill(65536, 'a'));
  writeFileSync(join(FILES_DIR, 'wo.bin'), fill(10000, 'A'), { mode: 0o600 });
  writeFileSync(join(FILES_DIR, 'rw.bin'), fill(8192, 'k'), { mode: 0o640 });
  writeFileSync(join(FILES_DIR, 'append.log'), 'start pid=7132\n');
  writeFileSync(join(FILES_DIR, 'rw-append.txt'), fill(777, 'm'));
  writeFileSync(join(FILES_DIR, 'sub/nested.dat'), fill(1234, 'n'));
}

function setup(name) {
  const src = `/tmp/corpus-src/${name}`, run = `/tmp/corpus-run/${name}`;
  mkdirSync(src, { recursive: true });
  mkdirSync(run, { recursive: true, mode: 0o755 });
  for (const b of readdirSync(join(CORPUS, name, 'bin'))) {
    copyFileSync(join(CORPUS, name, 'bin', b), join(src, b));
    chmodSync(join(src, b), 0o755);
  }
  writeFileSync(join(run, 'out.log'), '');
  if (name === 'files') filesData();
  if (name === 'misc-fds') {
    // the files the program made: the watched file and the 16 KiB shared mapping (its size is checked)
    writeFileSync(join(run, 'watched.txt'), 'watch me\n');
    writeFileSync(join(run, 'shared.dat'), Buffer.alloc(16384, 'f'));
  }
  if (name === 'fifo-locks') {
    // the FIFO node and the locked files, as the program made them (sizes are checked)
    for (const f of ['fifo', 'flock.dat', 'posix.dat', 'ofd.dat']) rmSync(join(run, f), { force: true });
    execFileSync('mkfifo', ['-m', '0600', join(run, 'fifo')]);
    writeFileSync(join(run, 'flock.dat'), '');
    writeFileSync(join(run, 'posix.dat'), Buffer.alloc(4096));
    writeFileSync(join(run, 'ofd.dat'), '');
  }
  const rr = readFileSync(join(CORPUS, name, 'run-result.txt'), 'utf8');
  const pids = /^tree pids: ([\d ]+)/m.exec(rr)[1].trim().split(/\s+/).map(Number);
  const lastBefore = /^last lines before dump: (.*)$/m.exec(rr)?.[1].split('|').filter(Boolean) ?? [];
  return { log: join(run, 'out.log'), pids, lastBefore };
}

const CASES = {
  'loop-static': (c, after) => assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1, 'tick continues'),
  'loop-dynamic': (c, after) => {
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    assert.ok(after.every((l) => /pattern=ok$/.test(l)), after.join('|'));
  },
  threads: (c, after) => {
    assert.equal(threadsOf(c.pids[0]), 5);
    const re = /c0=(\d+) c1=(\d+) c2=(\d+) c3=(\d+)/;
    const first = re.exec(after[0]).slice(1).map(Number), last = re.exec(after.at(-1)).slice(1).map(Number);
    last.forEach((v, i) => assert.ok(v > first[i], `worker ${i} runs`));
  },
  'tree-pipes': (c, after) => {
    const [root, c1, c2] = c.pids;
    assert.equal(stat(c1).ppid, root);
    assert.equal(stat(c2).pgid, c2);
    assert.ok(ticks(after, /^parent got: child1 tick (\d+)/).length >= 2, after.join('|'));
  },
  files: (c, after) => {
    const a = after.filter((l) => l.startsWith('tick'));
    assert.ok(a.every((l) => / ro_pos=12345 wo_pos=5000 rw_pos=4113 ghost_pos=100 ghost\[0\.\.4\]=GHIJ$/.test(l)), a.join('|'));
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    filesCheck(c.pids[0]);
    // the dup'ed and re-opened append log goes on
    assert.match(readFileSync(join(FILES_DIR, 'append.log'), 'utf8'), /tick \d+\n$/);
  },
  'fifo-locks': (c, after) => {
    const a = after.filter((l) => l.startsWith('tick'));
    assert.ok(a.every((l) => l.endsWith('ofd_lock_seen=yes')), a.join('|'));
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    locksCheck(c.pids[0]);
  },
  'proc-state': (c, after) => {
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    procStateCheck(c.pids[0], after);
  },
  'misc-fds': (c, after) => {
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1);
    miscFdsCheck(c.pids, after);
  },
  pty: (c, after) => {
    // a pty pair inside the tree: the child writes to the slave, the parent reads the master; the slave is the
    // session's controlling terminal (root and child, root's group in the foreground); termios/winsize as dumped,
    // and the 35 bytes of input left queued for the slave are still there
    const re = /^master got: child tick (\d+)/;
    assert.equal(ticks(after, re)[0], ticks(c.lastBefore, re).at(-1) + 1, after.join('|'));
    assert.ok(ticks(after, re).length >= 2);
    const [root, child] = c.pids;
    const slave = readlinkSync(`/proc/${root}/fd/4`);
    assert.match(slave, /^\/dev\/pts\/\d+$/);
    assert.equal(readlinkSync(`/proc/${root}/fd/3`), '/dev/ptmx');
    const rdev = statSync(slave).rdev;
    for (const p of [root, child]) {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      assert.equal(Number(f[4]), rdev, `task ${p}: controlling terminal`);
      assert.equal(Number(f[5]), root, `task ${p}: foreground group`);
    }
    const py = spawnSync('python3', ['-c', `import os, fcntl, termios, struct
fd = os.open('/proc/${root}/fd/4', os.O_RDWR | os.O_NOCTTY)
a = termios.tcgetattr(fd)
print(struct.unpack('i', fcntl.ioctl(fd, termios.FIONREAD, b'0000'))[0], a[1] & termios.ONLCR, a[3] & termios.ECHO, bool(a[3] & termios.ICANON),
      struct.unpack('HHHH', fcntl.ioctl(fd, termios.TIOCGWINSZ, b'0' * 8))[:2])`], { encoding: 'utf8' });
    assert.equal(py.stdout.trim(), '35 0 0 True (42, 132)', py.stderr);
  },
  // netlink and packet sockets (in the namespace's own network, lo up): the mapped ring keeps seeing frames
  'netlink-packet': (c, after) => {
    const a = ticks(after, /^tick (\d+) ring_frames=[1-9]/);
    assert.ok(a.length >= 2, after.join('|'));
    assert.equal(ticks(after)[0], ticks(c.lastBefore).at(-1) + 1, 'tick continues');
  },
  'unix-sockets': (c, after) => {
    const a = ticks(after, /^server got: client tick (\d+)/);
    assert.ok(a.length >= 2, after.join('|'));
    assert.equal(a[0], ticks(c.lastBefore, /^server got: client tick (\d+)/).at(-1) + 1);
  },
};

for (const [name, check] of Object.entries(CASES)) {
  test(`restore CRIU 4.2's ${name}`, async (t) => {
    if (!corpusOrSkip(t) || !needPtrace(t)) return;
    const ns = await pidNamespaceOrSkip(t, `corpus-ns-${name}`);
    if (!ns) return;
    const c = setup(name);
    try {
      if (name === 'netlink-packet') assert.equal(ns.run(['ip', 'link', 'set', 'lo', 'up']).status, 0, 'lo up in the namespace');
      const flags = name === 'fifo-locks' ? ['--file-locks'] : [];
      const root = restoreOk(join(CORPUS, name), flags, ns.ckpt);
      assert.equal(root, c.pids[0]);
      assert.deepEqual(ns.pids().sort((a, b) => a - b), [...c.pids].sort((a, b) => a - b), 'every PID is back');
      // what /proc here shows of the tree: the PIDs on this side of the namespace
      const here = { ...c, pids: c.pids.map((p) => ns.host(p)) };
      await eventually(() => {
        const after = lines(c.log);
        assert.ok(after.length >= 2, 'the program keeps logging');
        check(here, after);
      });
      if (name === 'loop-static' || name === 'loop-dynamic' || name === 'files' || name === 'fifo-locks' || name === 'proc-state' || name === 'misc-fds' || name === 'netlink-packet') {
        // and once more through our own dump (in the namespace: its init collects the killed tree at once)
        const img = join(workDir(`corpus-${name}`), 'img');
        const d = ns.ckpt(['dump', '-t', String(root), '-D', img, ...flags]);
        assert.equal(d.status, 0, d.stderr);
        assert.ok(await waitGone(here.pids), `the dumped tree is collected by the namespace's init: ${holders(here.pids)}`);
        const n = lines(c.log).length;
        assert.equal(restoreOk(img, flags, ns.ckpt), root);
        const hereAgain = { ...c, pids: c.pids.map((p) => ns.host(p)), lastBefore: lines(c.log).slice(0, n) };
        await eventually(() => {
          const again = lines(c.log).slice(n);
          assert.equal(ticks(again)[0], ticks(hereAgain.lastBefore).at(-1) + 1);
          if (name === 'files' || name === 'fifo-locks' || name === 'proc-state' || name === 'misc-fds' || name === 'netlink-packet') check(hereAgain, again);
          if (name === 'loop-dynamic') assert.ok(again.length >= 2 && again.every((l) => /pattern=ok$/.test(l)), again.join('|'));
        });
      }
    } finally {
      await ns.close();
    }
  });
}

test("restore CRIU 4.2's ext-unix-sk: refused without --ext-unix-sk, reconnected to the running server with it", async (t) => {
  if (!corpusOrSkip(t) || !needPtrace(t)) return;
  const ns = await pidNamespaceOrSkip(t, 'corpus-ns-ext-unix-sk');
  if (!ns) return;
  setup('ext-unix-sk');
  const run = '/tmp/corpus-run/ext-unix-sk';
  rmSync(join(run, 'server.sock'), { force: true });
  writeFileSync(join(run, 'server.log'), '');
  // the external peer exists at restore time, as the seed's recipe says
  let srv;
  try {
    srv = await spawnServer(run);
    const r = ns.ckpt(['restore', '-D', join(CORPUS, 'ext-unix-sk'), '-d']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /task \d+ fd 3: unix socket \d+ is connected to an external socket \(\/tmp\/corpus-run\/ext-unix-sk\/server.sock\); restore with --ext-unix-sk/);
    assert.deepEqual(ns.pids(), [], 'nothing restored');
    assert.equal(restoreOk(join(CORPUS, 'ext-unix-sk'), ['--ext-unix-sk'], ns.ckpt), c0('ext-unix-sk'));
    await until(() => lines(join(run, 'server.log')).filter((l) => l.startsWith('server got: ext client tick')).length >= 2, 10000,
      'the server to hear from the restored client');
  } finally {
    await ns.close();
    if (srv) {
      killPids([srv]);
      await waitGone([srv]);
    }
  }
});

/** the root PID of a corpus case */
function c0(name) {
  return Number(/^tree pids: (\d+)/m.exec(readFileSync(join(CORPUS, name, 'run-result.txt'), 'utf8'))[1]);
}

async function spawnServer(run) {
  const { spawnSync } = await import('node:child_process');
  spawnSync('/bin/bash', ['-c', 'setsid /tmp/corpus-src/ext-unix-sk/server /tmp/corpus-run/ext-unix-sk/server.sock </dev/null >>server.log 2>&1 &'], { cwd: run, stdio: 'ignore' });
  for (let i = 0; i < 250; i++) {
    const m = /SERVER READY pid=(\d+)/.exec(readFileSync(join(run, 'server.log'), 'utf8'));
    if (m) return Number(m[1]);
    await sleep(20);
  }
  throw new Error('ext-unix-sk server did not start');
}
