// Restore plans built by hand (every object kind, a small tree) for the plan tests, and the C reader's
// harness (packages/engine/plan/harness.c) built from the generated reader, plainly or with sanitizers.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const gen = join(root, 'packages/engine/build/restore');

/** builds the harness into test/.tmp; sanitize: with AddressSanitizer and UBSan, any report fatal */
export function buildHarness(sanitize) {
  const out = join(root, 'test/.tmp', sanitize ? 'plan-harness-asan' : 'plan-harness');
  mkdirSync(dirname(out), { recursive: true });
  const flags = sanitize ? ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'] : ['-O2'];
  execFileSync('gcc', [...flags, '-Wall', '-Werror', '-I', gen, '-o', out, join(root, 'packages/engine/plan/harness.c'),
    join(gen, 'plan-wire.c'), join(gen, 'plan-wire-json.c')], { stdio: ['ignore', 'pipe', 'pipe'] });
  return out;
}

// every number in a plan distinct (from a counter), so that two fields swapped anywhere show
let next = 1000;
const v = () => next++;
const big = () => (1n << 40n) + BigInt(next++);
const buf = (n) => Buffer.from(Array.from({ length: n }, () => next++ & 0xff));

function thread(tid, extra = {}) {
  return { tid, clearTid: big(), robust: big(), robustLen: v(), fsBase: big(), gsBase: big(), rseqPtr: big(), rseqSize: 32, rseqSig: v(), comm: `thr${tid}`, frame: buf(100),
    policy: 0x40000002, prio: v(), nice: -5, seccompStrict: 0, seccomp: [], ...extra };
}

/** a task with every field set; parent: its parent's position (-1: the root) */
export function task(pid, parent, extra = {}) {
  return {
    pid, parent, pgid: v(), sid: v(), state: 1, exitCode: v(), stopSigno: v(), filesShared: 0, umask: 0o22, cwd: `/cwd/${pid}`, root: '/', exe: `/bin/prog${pid}`, pages: `/img/pages-${pid}.img`,
    fds: [], files: [], epoll: [], ptimers: [], ctty: -1, cttyPgrp: v(), vmas: [], iovs: [{ base: big(), len: big(), off: big() }], guards: [[big(), big()]],
    vdso: { hint: big(), expect: big(), vvarLen: big(), vdsoLen: big(), proxy: 0, why: '', patches: [] },
    mm: Array.from({ length: 11 }, big), auxv: Array.from({ length: 6 }, big), comm: `task${pid}`,
    sigact: Array.from({ length: 64 }, () => [big(), big(), big(), big()]),
    rlim: Array.from({ length: 16 }, () => [big(), -1n]), itimer: Array.from({ length: 3 }, () => [big(), big(), big(), big()]),
    credsSet: 1, cred: Array.from({ length: 8 }, v), secbits: v(), groups: [v(), v()], caps: Array.from({ length: 5 }, () => [v(), v()]), noNewPrivs: 0,
    dumpable: 1, pdeathSig: v(), personalitySet: 1, personality: big(), thpDisabled: 1,
    threads: [thread(pid)], pagesBytes: 0, aios: [], locks: [], subreaper: 0, oomSet: 1, membarrier: v(), oomAdj: -1000,
    sigs: [],
    ...extra,
  };
}

const base = { detached: false, shellJob: false, callerTty: false, memfds: [], ghosts: [], inheritFds: [], pipes: [], objs: [] };

/** one task, nothing else */
export function minimalPlan() {
  next = 1000;
  return { ...base, tasks: [task(100, -1)] };
}

/** an object of every kind, pipes and memfds, two tasks using them */
export function everyKindPlan() {
  next = 5000;
  const objs = [
    { kind: 1, label: 'fd 3 (/etc/hosts)', path: '/etc/hosts', flags: 0o2, pos: big(), fown: [v(), v(), v()] },
    { kind: 1, label: 'fd 4 (deleted file /tmp/x)', path: '/tmp/x.cr.1.ghost', flags: (0o1 | 0x80000000) >>> 0, pos: 0n },
    { kind: 2, label: 'fd 5 (pipe:[1])', flags: 0o4000, pipeNo: 1, end: 1 },
    // a connected pair: the first names the second, which comes later (a forward index)
    { kind: 3, label: 'fd 6 (unix socket:[2])', flags: 0o4000, sk: { type: 1, state: 1, backlog: 0, peer: 4, listener: -1, sndbuf: v(), rcvbuf: v(), shutdown: 0, passcred: 1, name: Buffer.alloc(0), queue: [buf(5), buf(17)], queueFds: [{ pkt: 1, obj: 0 }, { pkt: 1, obj: 2 }] } },
    { kind: 3, label: 'fd 7 (unix socket:[3] "/tmp/sock")', flags: 0, sk: { type: 1, state: 1, backlog: 5, peer: 3, listener: 5, sndbuf: v(), rcvbuf: v(), shutdown: 2, passcred: 0, passsec: 1, name: Buffer.from('/tmp/sock'), queue: [] } },
    { kind: 3, label: 'listener', flags: 0x40000000, sk: { type: 1, state: 10, backlog: 128, peer: -2, listener: -1, sndbuf: v(), rcvbuf: v(), shutdown: 0, passcred: 0, name: Buffer.from('\0abstract'), queue: [], icons: [{ obj: 4 }], mode: v(), uid: v(), gid: v(), nameDir: '/run/dir' } },
    { kind: 4, label: 'fd 8 (FIFO /tmp/f)', path: '/tmp/f', flags: 0o2, fifo: { size: 65536, data: buf(9) } },
    { kind: 5, label: 'fd 9 (inherited fd 7)', flags: 0, inheritFd: 7 },
    { kind: 6, label: 'fd 10 (eventfd)', flags: 0o4000, nums: [big()] },
    { kind: 7, label: 'fd 11 (timerfd)', flags: 0, nums: [1n, big(), big(), big(), big(), big(), 1n] },
    { kind: 8, label: 'fd 12 (signalfd)', flags: 0, nums: [big()] },
    { kind: 9, label: 'fd 13 (eventpoll)', flags: 0o2000000, epTargets: [{ obj: 6, tfd: 10, events: v(), data: big() }] },
    { kind: 10, label: 'fd 14 (inotify)', flags: 0, watches: [{ wd: 1, mask: v(), path: '/etc' }, { wd: 2, mask: v(), path: '/tmp' }] },
    { kind: 11, label: 'fd 15 (memfd)', flags: 0o2, pos: big(), nums: [1n] },
    { kind: 12, label: 'fd 0 (/dev/pts/3: the caller\'s terminal)', flags: 0o2 },
    { kind: 13, label: 'fd 16 (pty master of /dev/pts/5)', flags: 0o2, data: buf(3), nums: [5n, ...Array.from({ length: 12 }, big), ...Array.from({ length: 19 }, () => BigInt(v() & 0xff))] },
    { kind: 14, label: 'fd 17 (/dev/pts/5)', flags: 0o2, nums: [15n] },
    { kind: 16, label: 'fd 18 (pidfd of task 300)', flags: 0o4000, nums: [300n, 4242n] },
    { kind: 13, label: 'fd 18 (pty master without termios)', flags: 0o2, nums: Array.from({ length: 13 }, (_, k) => (k === 12 ? 0n : big())) },
    { kind: 17, label: 'fd 19 (TCP socket:[9] [::1]:80, listening)', flags: 0o4000, inet: { family: 10, type: 1, proto: 6, bind: 1, src: buf(16), srcPort: 80,
      ifname: 'lo', listen: 1, backlog: v(), connect: 0, dst: buf(16), dstPort: 0, shutdown: 3,
      opts: [{ step: 0, what: 'SO_REUSEADDR', level: 1, name: 2, val: buf(4) }, { step: 2, what: 'SO_ATTACH_FILTER', level: 1, name: 26, val: buf(16) }] } },
    { kind: 18, label: 'fd 20 (fanotify)', flags: 0o4000, nums: [0x12n, 0x8000n], fanMarks: [{ type: 2, mflags: 0x40, mask: v(), ignoredMask: v(), path: '/' }, { type: 1, mflags: 0, mask: v(), ignoredMask: 0, path: '/etc/hosts' }] },
    { kind: 17, label: 'fd 21 (TCP socket:[10] 127.0.0.1:5000 to 127.0.0.1:80)', flags: 0o2, inet: { family: 2, type: 1, proto: 6, bind: 0, src: buf(4), srcPort: 5000,
      listen: 0, backlog: v(), connect: 0, dst: buf(4), dstPort: 80, shutdown: 0, opts: [], tcp: Array.from({ length: 17 }, big), tcpReuseaddr: 1, inq: buf(5), outq: buf(9) } },
    { kind: 19, label: 'fd 22 (netlink socket:[10] protocol 0 port 4242)', flags: 0o4000, netlink: { proto: 0, portid: 4242, groups: v(), connect: 1, dstPortid: v(), dstGroup: 32 },
      skOpts: [{ what: 'SO_PASSCRED', level: 1, name: 16, val: buf(4) }, { what: 'SO_RCVTIMEO', level: 1, name: 20, val: buf(16) }] },
    { kind: 20, label: 'fd 23 (packet socket SOCK_RAW protocol 0x300 on device 1)', flags: 0, packet: { type: 3, proto: 0x300, ifindex: v() },
      skOpts: [{ what: 'PACKET_RX_RING', level: 263, name: 5, val: buf(28) }] },
  ];
  const t0 = task(200, -1, {
    fds: objs.map((_, i) => ({ fd: i + 3, obj: i, cloexec: i & 1 })),
    files: [{ path: '/usr/lib/libc.so.6', oflags: 0, memfd: -1 }, { path: '', oflags: 2, memfd: 0 }, { path: '', oflags: 2, memfd: -1, obj: 1 }],
    vmas: [
      { start: big(), end: big(), pgoff: 0n, prot: 5, flags: 2, file: 0, madv: 0n, addWrite: 0 },
      { start: big(), end: big(), pgoff: big(), prot: 3, flags: 1, file: 1, madv: big(), addWrite: 1 },
      { start: big(), end: big(), pgoff: 0n, prot: 3, flags: 34, file: -1, madv: 0n, addWrite: 0 },
    ],
    threads: [thread(200, { seccomp: [{ flags: 1, insns: buf(8 * 4) }, { flags: 0, insns: buf(8) }] }), thread(201, { seccompStrict: 1 })],
    aios: [[big(), 126n, 8192n]],
    locks: [[1, 1, big(), big(), 3], [4, 0, 0n, 0n, 5], [8, 1, 0n, 0n, 4]],
    sigs: [{ tid: 0, info: buf(128) }, { tid: 201, info: buf(128) }],
    epoll: [[13, 10, 1, big()]],
    ptimers: [Array.from({ length: 10 }, big)],
    loginuid: [BigInt(v())],
    ctty: 16, cttyPgrp: 200, cgroup: '/proc/1/fd/30/a/cgroup.procs\n/proc/1/fd/31/cgroup.procs', cgns: '/proc/1/fd/30/cgroup.procs', netns: '/proc/1/fd/32',
  });
  const t1 = task(210, 0, { fds: [{ fd: 0, obj: 14, cloexec: 0 }, { fd: 1, obj: 2, cloexec: 1 }], groups: [] });
  // a proxied vDSO: one jump (its address at byte 2) and one syscall stub
  t1.vdso = { ...t1.vdso, proxy: 1, why: 'clock_gettime moved', patches: [{ at: big(), rel: 2, code: buf(12) }, { at: big(), rel: -1, code: buf(8) }] };
  return {
    ...base, shellJob: true, callerTty: true,
    pipes: [{ size: 4096, data: Buffer.alloc(0) }, { size: 65536, data: buf(11) }],
    memfds: [
      { label: 'memfd:a', name: 'memfd:a', anon: false, size: 8192n, seals: 5, mode: 0o600, uid: 0, gid: 0, pages: '/img/pages-3.img', runs: [{ off: 0n, len: 4096n, fileOff: 0n }] },
      { label: 'shmem 77', name: '', anon: true, size: 4096n, seals: 0, mode: 0o666, uid: 1000, gid: 1000, pages: '', runs: [] },
      { label: 'hugetlb', name: '/anon_hugepage', anon: true, size: 2097152n, seals: 0, mode: 0o600, uid: 0, gid: 0, pages: '/img/pages-4.img', runs: [], hugetlb: 4 | (21 << 26) },
    ],
    inheritFds: [7],
    objs, tasks: [t0, t1], procPids: [BigInt(v()), 77n],
  };
}

/** a detached tree of three tasks, a zombie among them, the second sharing its parent's fd table */
export function treePlan() {
  next = 9000;
  const zombie = task(302, 1, { state: 16, exitCode: 3 });
  return { ...base, detached: true, tasks: [task(300, -1), task(301, 0, { threads: [thread(301), thread(305), thread(306)], filesShared: 1 }), zombie] };
}

export const samples = { minimal: minimalPlan, 'every-kind': everyKindPlan, tree: treePlan };
