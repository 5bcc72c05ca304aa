// Shared pieces of the restore suites: wait for PIDs, read tick lines, run a restore, a PID namespace to
// restore in.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, ckpt, CKPT, compile, eventually, sleep, workDir } from './helpers.mjs';

export async function waitGone(pids, ms = 3000) {
  const end = Date.now() + ms;
  while (pids.some((p) => existsSync(`/proc/${p}`))) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** "PID=comm (state)" of each of pids still taken, for messages. */
export function holders(pids) {
  return pids.filter((p) => existsSync(`/proc/${p}`)).map((p) => {
    try { return `${p}=${readFileSync(`/proc/${p}/comm`, 'utf8').trim()} (${stat(p).state})`; } catch { return String(p); }
  }).join(', ');
}

/**
 * Waits until the PIDs of a tree we dumped (and so killed) are free to restore it again. Its tasks are dead
 * when the dump returns, but their PIDs are free only once their reaper (PID 1 or a subreaper; some reap
 * only every few seconds) has collected them.
 */
export async function dumpedPidsFree(pids) {
  assert.ok(await waitGone(pids, 30000), `the dumped tree's PIDs must be free to restore it; their reaper has not collected ${holders(pids)} in 30 s`);
}

/** ckpt restore -D dir -d (+args); asserts success and returns the root pid from --pidfile. The pidfile and
 * the log go to a directory of their own: the images dir may be the shared corpus, which is read only to us.
 * run: how to run the CLI (ckpt here, or a PID namespace's). */
export function restoreOk(dir, extra = [], run = ckpt) {
  const out = mkdtempSync(join(tmpdir(), 'ckpt-restore-out-'));
  const pidfile = join(out, 'restore.pid');
  const r = run(['restore', '-D', dir, '-d', '--pidfile', pidfile, '-v4', '-o', join(out, 'restore.log'), ...extra]);
  let log = '';
  try { log = readFileSync(join(out, 'restore.log'), 'utf8'); } catch {}
  assert.equal(r.status, 0, `restore failed: ${r.stderr}\n${log}`);
  const pid = Number(readFileSync(pidfile, 'utf8'));
  rmSync(out, { recursive: true, force: true });
  return pid;
}

/** SIGUSR1 to a program that checks its own state (progs/sock-check.h), then its RESULT lines */
export async function resultOf(h, pid) {
  process.kill(pid, 'SIGUSR1');
  return eventually(() => {
    const r = h.lines().filter((l) => l.startsWith('RESULT'));
    assert.ok(r.length, 'RESULT line');
    return r.join('\n');
  });
}

export function lines(file) {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** numbers of "tick N" lines (optionally those matching re) */
export function ticks(all, re = /^tick (\d+)/) {
  return all.map((l) => re.exec(l)).filter(Boolean).map((m) => Number(m[1]));
}

export function killPids(pids) {
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch {}
  }
}

export function threadsOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').match(/Threads:\s+(\d+)/)[1] | 0;
  } catch { return 0; }
}

export function stat(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]) };
}

export { alive, eventually };

/** fds of the files program after restore: flags, offsets, the ghosts deleted again and gone from disk */
export function filesCheck(pid) {
  const info = (fd) => {
    const t = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    return { pos: Number(/pos:\s+(\d+)/.exec(t)[1]), flags: parseInt(/flags:\s+(\d+)/.exec(t)[1], 8) };
  };
  const link = (fd) => readlinkSync(`/proc/${pid}/fd/${fd}`);
  assert.equal(info(3).pos, 12345); assert.equal(info(11).pos, 12345); assert.equal(link(11), link(3));
  assert.equal(link(100), link(4)); assert.equal(info(100).pos, 5000);
  assert.ok(info(5).flags & 0o2000000, 'rw.bin keeps O_CLOEXEC');
  assert.ok(info(6).flags & 0o2000 && info(7).flags & 0o2000, 'O_APPEND files');
  assert.equal(info(12).flags & 0o1400000, 0o1400000, 'O_NOFOLLOW|O_NOATIME');
  assert.equal(info(12).pos, 1000);
  assert.ok(info(10).flags & 0o200000, 'directory fd');
  assert.match(link(8), /ghost\.txt.* \(deleted\)$/); assert.match(link(9), /ghost-ro\.txt.* \(deleted\)$/);
  assert.equal(info(8).pos, 100); assert.equal(info(9).pos, 4999);
  const dir = readlinkSync(`/proc/${pid}/cwd`);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('ghost')), [], 'no ghost file left on disk');
}

/** the fifo-locks program's locks after restore: POSIX write [0,100) and read [200,300) owned by it, its flock,
 * and an OFD lock [10,30) */
export function locksCheck(pid) {
  const l = readFileSync('/proc/locks', 'utf8').split('\n');
  const mine = l.filter((x) => x.split(/\s+/)[4] === String(pid)).map((x) => x.split(/\s+/).slice(1, 4).concat(x.split(/\s+/).slice(6)).join(' '));
  assert.ok(mine.includes('POSIX ADVISORY WRITE 0 99'), mine.join('|'));
  assert.ok(mine.includes('POSIX ADVISORY READ 200 299'), mine.join('|'));
  assert.ok(mine.includes('FLOCK ADVISORY WRITE 0 EOF'), mine.join('|'));
  assert.ok(l.some((x) => /OFDLCK\s+ADVISORY\s+WRITE .* 10 29$/.test(x)), 'the OFD lock');
}

/** the proc-state program after restore: its own report (alarms go on, seccomp denies uname, umask, nice), and
 * what /proc shows: the pending+blocked SIGWINCH, seccomp, no_new_privs, groups, caps, personality, rlimits */
export function procStateCheck(pid, after) {
  const re = /^tick \d+ alarms=(\d+) usr1=(\d+) uname=(.*) umask=(\d+) nice=(-?\d+)$/;
  const m = after.map((l) => re.exec(l)).filter(Boolean);
  assert.ok(m.length >= 3, after.join('|'));
  assert.ok(Number(m.at(-1)[1]) > Number(m[0][1]), 'ITIMER_REAL fires and the SIGALRM handler counts');
  assert.ok(m.every((x) => x[2] === '1' && x[3] === '-1/Operation not permitted' && x[4] === '027' && x[5] === '5'), after.join('|'));
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const f = (k) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st)[1].trim();
  assert.equal(BigInt('0x' + f('ShdPnd')) & 0x8000000n, 0x8000000n, 'SIGWINCH still pending');
  assert.equal(BigInt('0x' + f('SigBlk')), 0x8000000n);
  assert.equal(f('Seccomp'), '2'); assert.equal(f('NoNewPrivs'), '1');
  assert.equal(f('Groups'), '0 10 100');
  assert.equal(BigInt('0x' + f('CapEff')) & ((1n << 13n) | (1n << 25n)), 0n, 'CAP_NET_RAW and CAP_SYS_TIME dropped');
  assert.equal(BigInt('0x' + f('CapBnd')) & (1n << 27n), 0n, 'CAP_MKNOD out of the bounding set');
  assert.equal(BigInt('0x' + f('CapInh')), 1n);
  assert.equal(readFileSync(`/proc/${pid}/personality`, 'utf8').trim(), '00040000');
  const lim = readFileSync(`/proc/${pid}/limits`, 'utf8');
  assert.match(lim, /Max open files\s+512\s+4096/);
  assert.match(lim, /Max stack size\s+4194304\s+67108864/);
}

/** the misc-fds program (and its child) after restore: its report (the child's counter in shared anonymous memory
 * goes on, the memfd's first byte, the POSIX timer runs down) and /proc: eventfd count, timerfd clocks, epoll
 * targets, signalfd mask, inotify watches, memfd and /dev/zero mappings shared with the child, the POSIX timer,
 * the pending signals */
export function miscFdsCheck(pids, after) {
  const [pid, child] = pids;
  const re = /^tick \d+ shm_counter=(\d+) timerfd_fires=(\d+) memfd\[0\]=(.) posix_timer_left=(\d+)s$/;
  const m = after.map((l) => re.exec(l)).filter(Boolean);
  assert.ok(m.length >= 3, after.join('|'));
  assert.ok(Number(m.at(-1)[1]) > Number(m[0][1]), 'the child increments the shared counter the parent reads');
  assert.ok(m.every((x) => x[3] === 'M' && Number(x[4]) <= 10), after.join('|'));
  const fdinfo = (fd) => readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
  const fdOf = (re) => readdirSync(`/proc/${pid}/fd`).map(Number).filter((fd) => re.test(readlinkSync(`/proc/${pid}/fd/${fd}`)));
  const [efd] = fdOf(/eventfd/);
  assert.match(fdinfo(efd), /eventfd-count:\s+5\n/);
  const tfds = fdOf(/timerfd/).map((fd) => /clockid: (\d+)/.exec(fdinfo(fd))[1]).sort();
  assert.deepEqual(tfds, ['1', '7']);
  const [ep] = fdOf(/eventpoll/);
  assert.equal((fdinfo(ep).match(/^tfd:/gm) ?? []).length, 3);
  assert.match(fdinfo(ep), /events:\s+80000019 data:\s+2222/);
  const [sfd] = fdOf(/signalfd/);
  assert.match(fdinfo(sfd), /sigmask:\s+0000000000000a00/);
  const [ino] = fdOf(/inotify/);
  assert.deepEqual((fdinfo(ino).match(/inotify wd:(\d+)/g) ?? []).sort(), ['inotify wd:1', 'inotify wd:2']);
  assert.equal(fdOf(/^\/memfd:corpus-memfd \(deleted\)$/).length, 1);
  const shared = (p) => readFileSync(`/proc/${p}/maps`, 'utf8').split('\n').filter((l) => / rw-s .*(\/dev\/zero|\/memfd:corpus-memfd) \(deleted\)$/.test(l))
    .map((l) => l.split(/\s+/).filter((_, i) => i !== 2 && i !== 3).join(' ')).sort();
  assert.equal(shared(pid).length, 2, readFileSync(`/proc/${pid}/maps`, 'utf8'));
  assert.deepEqual(shared(child), shared(pid), 'the child maps the same shared memory');
  assert.match(readFileSync(`/proc/${pid}/timers`, 'utf8'), /^ID: \d+\nsignal: 0\/0+\nnotify: none\/pid\.\d+\nClockID: 1$/m);
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(st, /^SigPnd:\s+0000000000000200$/m, 'SIGUSR1 pending for the thread');
  assert.match(st, /^ShdPnd:\s+0000000000000800$/m, 'SIGUSR2 pending for the process');
  assert.equal(readFileSync(`/proc/${child}/comm`, 'utf8').trim(), 'misc-child');
}

/**
 * A fresh PID namespace with its own /proc, for restoring dumps made elsewhere (the corpus): their PIDs
 * are those of the machine that made them, and inside nothing of this machine can hold them. In a fresh
 * network namespace too: the corpus' unix-sockets binds the abstract name "corpus-abstract", which is one
 * per network namespace (sockets bound to paths still reach outside). Its init
 * (progs/pidns-init.c) collects every task that dies at once and stays until close(), which kills
 * everything inside. run(argv) runs a command inside (sync), ckpt(args) the CLI; host(pid) is the PID that
 * /proc here shows for PID pid inside (what the checks read).
 */
export async function pidNamespace(dir) {
  const init = compile('pidns-init', dir);
  const u = spawn('unshare', ['--pid', '--net', '--fork', '--mount-proc', init], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = await new Promise((resolve) => {
    u.stdout.on('data', (d) => { out += d; if (out.includes('READY')) resolve(true); });
    u.stderr.on('data', (d) => { out += d; });
    u.on('exit', () => resolve(false));
    u.on('error', (e) => { out += e.message; resolve(false); });
  });
  if (!started) throw new Error(`cannot make a PID namespace (unshare --pid --net --fork --mount-proc): ${out.trim()}`);
  const initPid = Number(readFileSync(`/proc/${u.pid}/task/${u.pid}/children`, 'utf8').trim());
  const ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  const enter = ['nsenter', '-t', String(initPid), '-p', '-n', '-m', '--'];
  const run = (argv, opts = {}) => spawnSync(enter[0], [...enter.slice(1), ...argv], { encoding: 'utf8', ...opts });
  /** host PID -> PID inside, for every process of the namespace but its init */
  const members = () => {
    const m = new Map();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d) || Number(d) === initPid) continue;
      try {
        if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
        const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))[1].trim().split(/\s+/);
        m.set(Number(d), Number(nspid.at(-1)));
      } catch { /* gone */ }
    }
    return m;
  };
  return {
    enter, run,
    ckpt: (args) => { const r = run([process.execPath, CKPT, ...args]); return { status: r.status, stdout: r.stdout, stderr: r.stderr }; },
    /** PIDs inside of the namespace's processes (but its init) */
    pids: () => [...members().values()],
    host(pid) {
      for (const [h, p] of members()) if (p === pid) return h;
      throw new Error(`no PID ${pid} in the namespace`);
    },
    async close() {
      try { process.kill(initPid, 'SIGKILL'); } catch {}
      if (u.exitCode === null) await new Promise((r) => u.on('exit', r));
    },
  };
}

/** pidNamespace in a work dir of its own, or, where none can be made, t.skip with the reason (a failure under CI). */
export async function pidNamespaceOrSkip(t, name) {
  try {
    return await pidNamespace(workDir(name));
  } catch (e) {
    if (process.env.CI) throw e;
    t.skip(e.message);
    return undefined;
  }
}

/** Polls fn every 20 ms until it returns something truthy; fails after ms naming what was awaited. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
