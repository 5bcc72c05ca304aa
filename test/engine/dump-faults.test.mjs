// Faults of a dump and of a restore of a tree with established TCP connections (progs/tcp-est.c: two
// connections, data in flight both ways, one of them half-closed), in a network namespace of the test's own,
// one case per step of src/fault.ts, with both network locks:
// - a dump that fails at a step (CKPT_FAULT=<step>), or that SIGINT or SIGTERM interrupts there
//   (CKPT_FAULT=pause:<step>): exit 1, one error line naming the step and the task or connection, no lock
//   rule or table left, no inventory, and the program runs on: every byte in flight arrives in order, and
//   both connections carry new data both ways (it checks that itself: RESULT PASS); SIGKILL too, through the
//   dump guard (src/dump-guard.ts);
// - a restore that fails: its address taken, a fault with every socket restored in repair mode, a fault once
//   the network is unlocked: one error line, no process left; the dump's lock stays for the next restore
//   (criu's out_kill), which brings the connections back, unless the failure came after the unlock
//   (out_kill_network_unlocked: nothing left, and a warning that data may be lost);
// - an unlock command that fails: one warning naming it, the restore goes on and the lock stays, as criu's;
//   once dropped by hand, the connections carry what it held back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '@ckpt/images';
import { CKPT, alive, compile, needPtrace, netNamespace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, resultOf, waitGone } from './restore-lib.mjs';

let ns; // the test's network namespace
let dir, prog, runs = 0;
before(() => { ns = netNamespace(); });
after(() => ns?.close());

/** root, ptrace and the lock's tools, else skip (a failure under CI) */
function need(t) {
  if (!needPtrace(t)) return false;
  const missing = ['iptables', 'ip6tables', 'nft', 'nsenter'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (!missing.length) return true;
  const why = `needs ${missing.join(', ')} (apt-get install iptables nftables util-linux)`;
  if (process.env.CI) assert.fail(why);
  t.skip(why);
  return false;
}

/** tcp-est started in the namespace, in a dir of its own */
async function started() {
  if (!prog) {
    dir = workDir('dump-faults');
    prog = compile('tcp-est', dir);
  }
  const cwd = join(dir, `run${++runs}`);
  mkdirSync(cwd);
  const h = await ns.launch(prog, [], cwd);
  return { h, cwd, pids: sessionPids(h.pid) };
}

/** what a lock left in the namespace: CRIU's iptables rules (its mark) and nftables tables */
function lockLeft() {
  const ipt = ['iptables', 'ip6tables'].flatMap((b) => ns.run(b, ['-w', '-S']).stdout.split('\n').filter((l) => /0xc114/i.test(l)));
  const nft = ns.run('nft', ['list', 'tables']).stdout.split('\n').filter((l) => /CRIU-/.test(l));
  return [...ipt, ...nft];
}

const errorLines = (stderr) => stderr.split('\n').filter((l) => /\bError: /.test(l));

/** ckpt in the namespace, paused at a step by CKPT_FAULT=pause:STEP, then sent signal; its exit and stderr */
async function interrupted(args, step, signal) {
  const p = spawn('nsenter', [ns.net, process.execPath, CKPT, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CKPT_FAULT: `pause:${step}` } });
  let stderr = '';
  const exited = new Promise((r) => p.on('exit', (code) => r(code)));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ckpt did not pause at ${step}: ${stderr}`)), 30000);
    p.stderr.on('data', (d) => {
      stderr += d;
      if (/paused at step/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.on('exit', () => { clearTimeout(timer); reject(new Error(`ckpt exited before it paused at ${step}: ${stderr}`)); });
  });
  // nsenter execs ckpt: the signal is ckpt's; its stderr ends when every holder of it (the dump guard too) is done
  p.kill(signal);
  const status = await exited;
  await new Promise((r) => (p.stderr.readableEnded ? r() : p.stderr.on('end', r)));
  return { status, stderr: stderr.replace(/^ckpt: paused at .*\n/m, '') };
}

/**
 * A dump of tcp-est with --tcp-established and the lock method that fails (CKPT_FAULT=fault) or is
 * interrupted (signal, at the pause), then everything as it was: expect(pid) is the error line's tail.
 */
async function failedDump(t, { method, fault, signal, expect }) {
  const { h, cwd, pids } = await started();
  try {
    const img = join(cwd, 'img');
    const args = ['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '--network-lock', method];
    const r = signal ? await interrupted(args, fault, signal) : ns.ckpt(args, { CKPT_FAULT: fault });
    assert.equal(r.status, 1, r.stderr);
    const errs = errorLines(r.stderr);
    assert.equal(errs.length, 1, `one error line:\n${r.stderr}`);
    assert.match(errs[0], new RegExp(`Error: Dumping FAILED: ${expect(h.pid)}$`));
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    assert.deepEqual(lockLeft(), [], 'no lock rule or table left');
    assert.ok(!existsSync(join(img, 'inventory.img')), 'no usable dump');
    assert.ok(pids.every(alive), 'the tree runs');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
    t.diagnostic(errs[0].replace(/^\(\s*[\d.]+\) /, ''));
  } finally {
    killPids(sessionPids(h.pid));
  }
}

// one connection, as TcpRepair names it: the fd, the task, the socket and both ends
const conn = (pid) => `fd \\d+ of task ${pid} \\(IPv[46] socket:\\[\\d+\\]\\): TCP connection \\S+ - \\S+`;
const STEPS = [
  ['lock', () => 'fault injected at step lock \\(CKPT_FAULT\\)'],
  ['freeze', (pid) => `fault injected at step freeze \\(task ${pid}\\) \\(CKPT_FAULT\\)`],
  ['task', (pid) => `fault injected at step task \\(task ${pid}\\) \\(CKPT_FAULT\\)`],
  // the first connection locked, not yet in repair mode
  ['tcp-lock', (pid) => `fault injected at step tcp-lock \\(${conn(pid)}\\) \\(CKPT_FAULT\\)`],
  // two connections read, the third in repair mode
  ['tcp-repair:3', (pid) => `fault injected at step tcp-repair \\(${conn(pid)}\\) \\(CKPT_FAULT\\)`],
  // all four ends read
  ['tcp-queues:4', (pid) => `fault injected at step tcp-queues \\(${conn(pid)}\\) \\(CKPT_FAULT\\)`],
  ['images', () => 'fault injected at step images \\(CKPT_FAULT\\)'],
];

for (const method of ['iptables', 'nftables']) {
  test(`a dump (--network-lock ${method}) that fails at each step leaves the tree running, its connections whole and the network unlocked`, async (t) => {
    if (!need(t)) return;
    for (const [fault, expect] of STEPS) await failedDump(t, { method, fault, expect });
  });
}

test('SIGINT or SIGTERM to a dump midway: it stops at that step and rolls back the same way (both locks)', async (t) => {
  if (!need(t)) return;
  const cases = [
    ['iptables', 'tcp-queues:2', 'SIGTERM'],
    ['nftables', 'tcp-repair:4', 'SIGINT'],
    ['nftables', 'freeze', 'SIGTERM'],
    ['iptables', 'images', 'SIGINT'],
  ];
  for (const [method, step, signal] of cases) {
    const name = step.replace(/:\d+$/, '');
    await failedDump(t, { method, fault: step, signal, expect: (pid) => `interrupted by ${signal} at step ${name}( \\((${conn(pid)}|task ${pid})\\))?` });
  }
});

test('SIGKILL to a dump midway: the dump guard unlocks and takes every socket out of repair mode (both locks)', async (t) => {
  if (!need(t)) return;
  for (const [method, step] of [['iptables', 'tcp-queues:3'], ['nftables', 'tcp-repair:4']]) {
    const { h, cwd, pids } = await started();
    try {
      const r = await interrupted(['dump', '-t', String(h.pid), '-D', join(cwd, 'img'), '--tcp-established', '--network-lock', method], step, 'SIGKILL');
      assert.equal(r.status, null, 'ckpt was killed');
      // the guard's stderr is ckpt's: its one line comes once it is done
      assert.match(r.stderr, /ckpt-dump-guard: ckpt ended in the middle of a dump: (\d+) of \1 lock command\(s\) undone, (\d+) of \2 TCP socket\(s\) out of repair mode/);
      assert.deepEqual(lockLeft(), [], 'no lock rule or table left');
      assert.ok(pids.every(alive), 'the tree runs');
      assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
      t.diagnostic(`${method}: ${/ckpt-dump-guard: .*/.exec(r.stderr)[0]}`);
    } finally {
      killPids(sessionPids(h.pid));
    }
  }
});

/** tcp-est dumped with the lock method (the tree killed, its lock kept for the restore) */
async function dumped(method) {
  const s = await started();
  const img = join(s.cwd, 'img');
  const d = ns.ckpt(['dump', '-t', String(s.h.pid), '-D', img, '--tcp-established', '--network-lock', method]);
  assert.equal(d.status, 0, d.stderr);
  await dumpedPidsFree(s.pids);
  assert.notDeepEqual(lockLeft(), [], 'the dump leaves its lock for the restore');
  return { ...s, img };
}

/** a restore that fails: exit 1, one error line matching re, no stack trace, no process left */
async function failedRestore(s, re, env = {}) {
  const r = ns.ckpt(['restore', '-D', s.img, '-d', '--tcp-established'], env);
  assert.equal(r.status, 1, r.stderr);
  const errs = errorLines(r.stderr);
  assert.equal(errs.length, 1, `one error line:\n${r.stderr}`);
  assert.match(errs[0], re);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.ok(await waitGone(s.pids, 3000), 'no restored process is left');
  return r;
}

/** the next restore: the connections back with every byte, the lock gone */
async function restoredAfter(s) {
  assert.equal(restoreOk(s.img, ['--tcp-established'], ns.ckpt), s.h.pid);
  assert.deepEqual(lockLeft(), [], 'the restore dropped the lock');
  assert.equal(await resultOf(s.h, s.h.pid), 'RESULT PASS');
}

test('a restore whose address is taken names the address and the task, leaves no process and the lock in place; the next one succeeds', async (t) => {
  if (!need(t)) return;
  for (const method of ['iptables', 'nftables']) {
    const s = await dumped(method);
    let busy;
    try {
      // the ends of the IPv4 connection, free since the dump killed the tree, taken by a live connection (a
      // repaired socket binds to any address, SO_REUSEADDR forced: what is taken is the pair of ends)
      const k = decodeImage(join(s.img, 'files.img')).entries.find((e) => e.isk?.family === 2).isk;
      const holdDir = join(s.cwd, 'hold');
      mkdirSync(holdDir);
      busy = await ns.launch(prog, ['hold', String(k.dst_port), String(k.src_port)], holdDir);
      const ends = [k.src_port, k.dst_port].map((p) => `127\\.0\\.0\\.1 port ${p}`);
      await failedRestore(s, new RegExp(`task ${s.h.pid}\\b.*: connect (${ends[0]} to ${ends[1]}|${ends[1]} to ${ends[0]}): Cannot assign requested address$`));
      assert.notDeepEqual(lockLeft(), [], 'a failed restore leaves the dump\'s lock (criu\'s out_kill)');
      killPids(sessionPids(busy.pid));
      await waitGone([busy.pid]);
      busy = undefined;
      await restoredAfter(s);
    } finally {
      if (busy) killPids(sessionPids(busy.pid));
      killPids(sessionPids(s.h.pid));
    }
  }
});

test('a restore that fails with every socket restored, the network still locked: no process left, the lock kept; the next one succeeds', async (t) => {
  if (!need(t)) return;
  for (const method of ['iptables', 'nftables']) {
    const s = await dumped(method);
    try {
      const before = lockLeft();
      await failedRestore(s, /Error: fault injected at step restore-sockets \(CKPT_FAULT\): every task restored, the network still locked$/, { CKPT_FAULT: 'restore-sockets' });
      assert.deepEqual(lockLeft(), before, 'the dump\'s lock as it was (criu\'s out_kill)');
      await restoredAfter(s);
    } finally {
      killPids(sessionPids(s.h.pid));
    }
  }
});

test('a restore that fails once the network is unlocked: no process left, no lock left (criu\'s out_kill_network_unlocked), and it says so', async (t) => {
  if (!need(t)) return;
  for (const method of ['iptables', 'nftables']) {
    const s = await dumped(method);
    try {
      const r = await failedRestore(s, /Error: fault injected at step restore-unlocked \(CKPT_FAULT\)$/, { CKPT_FAULT: 'restore-unlocked' });
      assert.match(r.stderr, /Warn: the restore failed after the network was unlocked: a connection of the tree may have lost data/);
      assert.deepEqual(lockLeft(), [], 'unlocked before the failure');
    } finally {
      killPids(sessionPids(s.h.pid));
    }
  }
});

test('an unlock command that fails at restore: one warning naming it, the tree runs, the lock stays (criu\'s network_unlock); dropped by hand, every byte goes through', async (t) => {
  if (!need(t)) return;
  // iptables, ip6tables (their -restore batches too) and nft that fail, first in the PATH the restore gets (the dump's ran before)
  const shim = join(workDir('dump-faults-shim'));
  for (const b of ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'nft']) writeFileSync(join(shim, b), '#!/bin/sh\necho "$0: refused by the test" >&2\nexit 4\n', { mode: 0o755 });
  for (const method of ['iptables', 'nftables']) {
    const s = await dumped(method);
    try {
      const rules = lockLeft();
      const out = join(s.cwd, 'restore');
      mkdirSync(out);
      const r = ns.ckpt(['restore', '-D', s.img, '-d', '--tcp-established', '--pidfile', join(out, 'pid')], { PATH: `${shim}:${process.env.PATH}` });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(errorLines(r.stderr).length, 0, r.stderr);
      const warns = r.stderr.split('\n').filter((l) => /Warn: network unlock/.test(l));
      // iptables: a family's batch fails, then each of its rules by itself
      const families = new Set(rules.map((l) => /::1|\/128/.test(l))).size;
      assert.equal(warns.length, method === 'nftables' ? 1 : families + rules.length, r.stderr);
      assert.match(warns[0], method === 'nftables' ? /Warn: network unlock: `nft delete table inet CRIU-[0-9a-f-]+` failed \(status 4\); the restore goes on, as criu's$/
        : /Warn: network unlock: `ip6?tables-restore -w --noflush` failed \(status 4\); the restore goes on, as criu's$/);
      if (method === 'iptables') assert.match(warns[1], /Warn: network unlock: `ip6?tables -w -t filter -D (INPUT|OUTPUT) .* -j DROP` failed \(status 4\); the restore goes on, as criu's$/);
      assert.deepEqual(lockLeft(), rules, 'the lock stays');
      assert.ok(alive(s.h.pid), 'the tree runs');
      // the lock dropped by hand: the connections, out of repair mode, carry what the lock held back
      for (const l of rules) {
        const m = /^-A (.*)$/.exec(l);
        const d = m ? ns.run(/::1|\/128/.test(l) ? 'ip6tables' : 'iptables', ['-w', '-D', ...m[1].split(' ')]) : ns.run('nft', ['delete', 'table', ...l.replace(/^table /, '').split(' ')]);
        assert.equal(d.status, 0, d.stderr);
      }
      assert.deepEqual(lockLeft(), []);
      assert.equal(await resultOf(s.h, s.h.pid), 'RESULT PASS');
    } finally {
      killPids(sessionPids(s.h.pid));
    }
  }
});
