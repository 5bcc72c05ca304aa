// The restore plan's wire form (packages/engine/plan/schema.mjs): the encoder's bytes are pinned (golden files
// in test/plan-golden, one u64 a line; PLAN_GOLDEN_UPDATE=1 rewrites them), the generated C reader gives back
// every field under the C name the helper uses (an oracle written here by hand, from the helper's side), and
// bad plans are refused with one line naming the field. Needs gcc, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePlan, RestoreError } from '../packages/engine/dist/restore/plan.js';
import { encodePlanWire, PLAN_MAGIC, PLAN_VERSION } from '../packages/engine/dist/restore/plan-wire.js';
import { buildHarness, everyKindPlan, minimalPlan, root, samples } from './lib/plans.mjs';

const goldenDir = join(root, 'test/plan-golden');
const tmp = join(root, 'test/.tmp/plan-wire');
mkdirSync(tmp, { recursive: true });
const harness = buildHarness(false);

const hexLines = (b) => Array.from({ length: b.length / 8 }, (_, k) => b.subarray(8 * k, 8 * k + 8).toString('hex')).join('\n') + '\n';

/** the reader's view of a plan file: JSON, or the error line */
function read(bytes, name = 'plan') {
  const f = join(tmp, `${name}.bin`);
  writeFileSync(f, bytes);
  const r = spawnSync(harness, [f], { encoding: 'utf8' });
  if (r.status === 0) return { json: JSON.parse(r.stdout) };
  assert.equal(r.status, 1, `harness failed: ${r.stderr}`);
  return { error: r.stderr };
}

// ---------------------------------------------------------------- the oracle: what the helper's C code reads
const d = (x) => BigInt.asUintN(64, BigInt(x)).toString();
const ds = (a) => a.map(d);
const hex = (b) => Buffer.from(b).toString('hex');
const ix = (x) => d(x < 0 ? -1 : x);

function objView(o) {
  const fown = o.fown ?? [0, 0, 0];
  const c = { kind: d(o.kind), label: o.label, fown_sig: d(fown[0]), fown_type: d(fown[1]), fown_pid: d(fown[2]),
    sk_opts: (o.skOpts ?? []).map((x) => ({ what: x.what, level: d(x.level), name: d(x.name), val: hex(x.val) })) };
  const nums = o.nums ? { nums: ds(o.nums) } : {};
  const n = o.nums ?? [];
  switch (o.kind) {
    case 1: return { ...c, path: o.path, flags: d(o.flags), pos: d(o.pos ?? 0) };
    case 4: return { ...c, path: o.path, flags: d(o.flags), fifo_size: d(o.fifo.size), fifo_data: hex(o.fifo.data) };
    case 2: return { ...c, pipe_no: d(o.pipeNo), end: d(o.end), flags: d(o.flags) };
    case 3: {
      const s = o.sk;
      return { ...c, sk_type: d(s.type), sk_state: d(s.state), sk_backlog: d(s.backlog), sk_peer_obj: ix(s.peer), sk_listener: ix(s.listener), sk_sndbuf: d(s.sndbuf),
        sk_rcvbuf: d(s.rcvbuf), sk_shutdown: d(s.shutdown), sk_passcred: d(s.passcred), flags: d(o.flags), sk_name: hex(s.name), queue: s.queue.map(hex),
        queue_fds: (s.queueFds ?? []).map((q) => ({ pkt: d(q.pkt), obj: d(q.obj) })), sk_icons: (s.icons ?? []).map((i) => ({ obj: d(i.obj) })),
        sk_mode: d(s.mode ?? 0), sk_uid: d(s.uid ?? 0), sk_gid: d(s.gid ?? 0), sk_name_dir: s.nameDir ?? '', sk_passsec: d(s.passsec ?? 0) };
    }
    case 5: return { ...c, inherit_fd: d(o.inheritFd) };
    case 6: return { ...c, flags: d(o.flags), 'eventfd.counter': d(n[0]), ...nums };
    case 7: return { ...c, flags: d(o.flags), ...Object.fromEntries(['clockid', 'ticks', 'isec', 'insec', 'vsec', 'vnsec', 'settime_flags'].map((k, i) => [`timerfd.${k}`, d(n[i])])), ...nums };
    case 8: return { ...c, flags: d(o.flags), 'signalfd.sigmask': d(n[0]), ...nums };
    case 9: return { ...c, flags: d(o.flags), ep_targets: (o.epTargets ?? []).map((t) => ({ obj: d(t.obj), tfd: d(t.tfd), events: d(t.events), data: d(t.data) })) };
    case 10: return { ...c, flags: d(o.flags), watches: o.watches.map((w) => ({ wd: d(w.wd), mask: d(w.mask), path: w.path })) };
    case 11: return { ...c, flags: d(o.flags), pos: d(o.pos), 'memfd.memfd': d(n[0]), ...nums };
    case 12: return { ...c, flags: d(o.flags) };
    case 13: {
      const names = ['index', 'iflag', 'oflag', 'cflag', 'lflag', 'line', 'ws_row', 'ws_col', 'ws_xpixel', 'ws_ypixel', 'locked', 'packet_mode', 'termios_set'];
      return { ...c, flags: d(o.flags), ...Object.fromEntries(names.map((k, i) => [`pty_master.${k}`, d(n[i])])), 'pty_master.cc': ds(n.slice(13)), data: hex(o.data ?? []), out_data: hex(o.outData ?? []), owner: ds(o.owner ?? []), ...nums };
    }
    case 14: return { ...c, flags: d(o.flags), 'pty_slave.master': d(n[0]), ...nums };
    case 16: return { ...c, flags: d(o.flags), 'pidfd.pid': d(n[0]), 'pidfd.ino': d(n[1]), ...nums };
    case 17: {
      const i = o.inet;
      return { ...c, flags: d(o.flags), in_family: d(i.family), in_type: d(i.type), in_proto: d(i.proto), in_bind: d(i.bind), in_src: hex(i.src),
        in_src_port: d(i.srcPort), in_ifname: i.ifname ?? '', in_listen: d(i.listen), in_backlog: d(i.backlog), in_connect: d(i.connect), in_dst: hex(i.dst),
        in_dst_port: d(i.dstPort), in_opts: i.opts.map((x) => ({ step: d(x.step), what: x.what, level: d(x.level), name: d(x.name), val: hex(x.val) })), in_shutdown: d(i.shutdown),
        in_tcp: ds(i.tcp ?? []), in_tcp_reuseaddr: d(i.tcpReuseaddr ?? 0), in_inq: hex(i.inq ?? []), in_outq: hex(i.outq ?? []) };
    }
    case 18: return { ...c, flags: d(o.flags), 'fanotify.faflags': d(n[0]), 'fanotify.evflags': d(n[1]), ...nums,
      fan_marks: (o.fanMarks ?? []).map((m) => ({ type: d(m.type), mflags: d(m.mflags), mask: d(m.mask), ignored_mask: d(m.ignoredMask), path: m.path })) };
    case 19: {
      const l = o.netlink;
      return { ...c, flags: d(o.flags), nl_proto: d(l.proto), nl_portid: d(l.portid), nl_groups: d(l.groups), nl_connect: d(l.connect), nl_dst_portid: d(l.dstPortid), nl_dst_group: d(l.dstGroup) };
    }
    case 20: {
      const k = o.packet;
      return { ...c, flags: d(o.flags), pk_type: d(k.type), pk_proto: d(k.proto), pk_ifindex: d(k.ifindex) };
    }
    default: throw new Error(`kind ${o.kind}`);
  }
}

function taskView(t) {
  return {
    pid: d(t.pid), parent: ix(t.parent), pgid: d(t.pgid), sid: d(t.sid), state: d(t.state), exit_code: d(t.exitCode), stop_signo: d(t.stopSigno), files_shared: d(t.filesShared), umask: d(t.umask),
    cwd: t.cwd, root: t.root, exe: t.exe, pages: t.pages,
    fds: t.fds.map((f) => ({ fd: d(f.fd), obj: d(f.obj), cloexec: d(f.cloexec) })),
    files: t.files.map((f) => ({ path: f.path, oflags: d(f.oflags), memfd: ix(f.memfd), obj: ix(f.obj ?? -1) })),
    vmas: t.vmas.map((x) => ({ start: d(x.start), end: d(x.end), pgoff: d(x.pgoff), prot: d(x.prot), flags: d(x.flags), file: ix(x.file), madv: d(x.madv), add_write: d(x.addWrite) })),
    iov: t.iovs.flatMap((x) => ds([x.base, x.len, x.off])), guards: (t.guards ?? []).map(ds),
    vdso_hint: d(t.vdso.hint), vdso_expect: d(t.vdso.expect), vvar_len: d(t.vdso.vvarLen), vdso_len: d(t.vdso.vdsoLen),
    vdso_proxy: d(t.vdso.proxy), vdso_why: t.vdso.why, vdso_patches: t.vdso.patches.map((x) => ({ at: d(x.at), rel: d(x.rel), code: hex(x.code) })),
    mm: ds(t.mm), auxv: ds(t.auxv), comm: t.comm, sigact: t.sigact.map(ds), rlim: t.rlim.map(ds), itimer: t.itimer.map(ds),
    creds_set: d(t.credsSet), cred: ds(t.cred), secbits: d(t.secbits), groups: ds(t.groups), caps: t.caps.map(ds), no_new_privs: d(t.noNewPrivs),
    dumpable: d(t.dumpable), pdeath_sig: d(t.pdeathSig), personality_set: d(t.personalitySet), personality: d(t.personality), loginuid: ds(t.loginuid ?? []), thp_disabled: d(t.thpDisabled ?? 0),
    thr: t.threads.map((h) => ({ tid: d(h.tid), clear_tid: d(h.clearTid), robust: d(h.robust), robust_len: d(h.robustLen), fs_base: d(h.fsBase), gs_base: d(h.gsBase),
      rseq_ptr: d(h.rseqPtr), rseq_size: d(h.rseqSize), rseq_sig: d(h.rseqSig), comm: h.comm, frame: hex(h.frame),
      policy: d(h.policy), prio: d(h.prio), nice: d(h.nice), seccomp_strict: d(h.seccompStrict),
      sc_flags: h.seccomp.map((s) => d(s.flags)), sc_insns: h.seccomp.map((s) => hex(s.insns)) })),
    aios: t.aios.map(ds), locks: t.locks.map(ds), subreaper: d(t.subreaper), oom_set: d(t.oomSet), oom_adj: d(t.oomAdj), membarrier: d(t.membarrier),
    sig_tid: t.sigs.map((s) => d(s.tid)), sig_info: t.sigs.map((s) => hex(s.info)),
    epoll: t.epoll.map(ds), ptimers: t.ptimers.map(ds), ctty: ix(t.ctty), ctty_pgrp: d(t.cttyPgrp), cgroup: t.cgroup ?? '', cgns: t.cgns ?? '', netns: t.netns ?? '',
  };
}

function cView(p) {
  return {
    plan_flags: d((p.detached ? 1 : 0) | (p.shellJob ? 2 : 0)),
    pipes: p.pipes.map((x) => ({ size: d(x.size), data: hex(x.data) })),
    memfds: p.memfds.map((m) => ({ label: m.label, name: m.name, anon: d(m.anon ? 1 : 0), size: d(m.size), seals: d(m.seals), mode: d(m.mode), uid: d(m.uid), gid: d(m.gid),
      pages: m.pages, runs: m.runs.flatMap((r) => ds([r.off, r.len, r.fileOff])), hugetlb: d(m.hugetlb ?? 0) })),
    objs: p.objs.map(objView),
    proc_pids: ds(p.procPids ?? []),
    tasks: p.tasks.map(taskView),
    inherit_fds: ds(p.inheritFds ?? []),
  };
}

// ---------------------------------------------------------------- tests

for (const [name, make] of Object.entries(samples)) {
  test(`plan ${name}: the encoder's bytes are pinned, the C reader gets every field back`, () => {
    const plan = make();
    const bytes = encodePlan(plan);
    assert.equal(bytes.readBigUInt64LE(0), PLAN_MAGIC);
    assert.equal(bytes.readBigUInt64LE(8), BigInt(PLAN_VERSION));
    assert.equal(bytes.readBigUInt64LE(16), BigInt((plan.detached ? 1 : 0) | (plan.shellJob ? 2 : 0)));
    const golden = join(goldenDir, `${name}.hex`);
    if (process.env.PLAN_GOLDEN_UPDATE) { mkdirSync(goldenDir, { recursive: true }); writeFileSync(golden, hexLines(bytes)); }
    assert.ok(existsSync(golden), `${golden} is missing (PLAN_GOLDEN_UPDATE=1 writes it)`);
    assert.equal(hexLines(bytes), readFileSync(golden, 'utf8'), `${name}: the encoder's output changed (a change of the wire form bumps the schema's version; then PLAN_GOLDEN_UPDATE=1)`);
    const r = read(bytes, name);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.json, cView(plan));
  });
}

/** the plan with a change made after the TypeScript checks (encodePlanWire unchecked), as the reader sees it */
function refuse(plan, change) {
  const p = structuredClone(plan);
  change(p);
  const bytes = encodePlanWire({ flags: 0, pipes: p.pipes, memfds: p.memfds, objs: p.objs, tasks: p.tasks }, { unchecked: true });
  return read(bytes).error;
}

test('plan reader: indices out of range or of the wrong kind are refused, naming the field', () => {
  const p = everyKindPlan();
  const cases = [
    [(q) => { q.tasks[1].fds[1].obj = 99; }, 'restore plan: tasks[1].fds[1].obj: index 99 out of range (24 objs)'],
    [(q) => { q.objs[2].pipeNo = 2; }, 'restore plan: objs[2].pipeNo: index 2 out of range (2 pipes)'],
    [(q) => { q.objs[3].sk.peer = 24; }, 'restore plan: objs[3].skPeer: index 24 out of range (24 objs)'],
    [(q) => { q.objs[4].sk.listener = 1n << 62n; }, `restore plan: objs[4].skListener: index ${1n << 62n} out of range (24 objs)`],
    [(q) => { q.objs[13].nums = [3n]; }, 'restore plan: objs[13].memfd: index 3 out of range (3 memfds)'],
    [(q) => { q.objs[16].nums = [16n]; }, 'restore plan: objs[16].master: index 16 is not before this element (16)'],
    [(q) => { q.objs[16].nums = [0n]; }, 'restore plan: objs[16].master: element 0 is not a PTY_MASTER'],
    [(q) => { q.tasks[0].files[1].memfd = 5; }, 'restore plan: tasks[0].files[1].memfd: index 5 out of range (3 memfds)'],
    [(q) => { q.tasks[0].vmas[2].file = 3; }, 'restore plan: tasks[0].vmas[2].file: index 3 out of range (3 files)'],
    [(q) => { q.tasks[0].ctty = 24; }, 'restore plan: tasks[0].ctty: index 24 out of range (24 objs)'],
    [(q) => { q.tasks[1].parent = 1; }, 'restore plan: tasks[1].parent: index 1 is not before this element (1)'],
    [(q) => { q.tasks[0].parent = 0; }, 'restore plan: tasks[0].parent: index 0 is not before this element (0)'],
  ];
  for (const [change, msg] of cases) assert.equal(refuse(p, change), `${msg}\n`);
});

test('plan reader: lengths, counts and limits are checked', () => {
  const p = everyKindPlan();
  const cases = [
    [(q) => { q.tasks[0].sigs[1].info = Buffer.alloc(127); }, 'restore plan: tasks[0].sigs[1].info: length 127, not 128'],
    [(q) => { q.tasks[0].threads[0].seccomp[0].insns = Buffer.alloc(12); }, 'restore plan: tasks[0].threads[0].seccomp[0].insns: length 12 is not a multiple of 8'],
    [(q) => { q.tasks[0].threads[1].frame = Buffer.alloc(0x2001); }, 'restore plan: tasks[0].threads[1].frame: length 8193 over its limit 8192'],
    [(q) => { q.tasks[1].threads = []; }, 'restore plan: tasks[1].threads: count 0 out of range [1, 18446744073709551615]'],
    [(q) => { q.tasks[0].auxv = new Array(63).fill(0n); }, 'restore plan: tasks[0].auxv: count 63 out of range [0, 62]'],
    [(q) => { q.tasks[0].groups = new Array(65).fill(0); }, 'restore plan: tasks[0].groups: count 65 out of range [0, 64]'],
    [(q) => { q.objs[15].nums = [...q.objs[15].nums, 1n]; }, 'restore plan: objs[15].cc: count 20 out of range [0, 19]'],
    [(q) => { q.tasks[0].comm = 'a\0b'; }, 'restore plan: tasks[0].comm: string contains a NUL byte'],
  ];
  for (const [change, msg] of cases) assert.equal(refuse(p, change), `${msg}\n`);
});

test('plan reader: magic, version, kinds, truncation, absurd counts and trailing bytes', () => {
  // a plan without pipes, memfds or objects: its first words are magic, version, flags, 0, 0, 0, nr_tasks
  const good = encodePlan(minimalPlan());
  const at = (off, val, b = good) => { const c = Buffer.from(b); c.writeBigUInt64LE(BigInt.asUintN(64, val), off); return c; };
  assert.equal(read(at(0, 0x1234n)).error, 'restore plan: not a restore plan (magic 0x1234)\n');
  assert.equal(read(at(8, 1n)).error, `restore plan: version: 1, this helper reads version ${PLAN_VERSION} (a helper of another build?)\n`);
  assert.equal(read(at(48, 1n << 63n)).error, `restore plan: tasks: count ${1n << 63n} is more than the ${good.length - 56} bytes left can hold\n`);
  assert.equal(read(at(48, -1n)).error, `restore plan: tasks: count ${(1n << 64n) - 1n} is more than the ${good.length - 56} bytes left can hold\n`);
  assert.equal(read(good.subarray(0, good.length - 4)).error, `restore plan: inheritFds: truncated at byte ${good.length - 8} of ${good.length - 4}\n`);
  assert.equal(read(good.subarray(0, 60)).error, 'restore plan: tasks: count 1 is more than the 4 bytes left can hold\n');
  assert.equal(read(good.subarray(0, 20)).error, 'restore plan: flags: truncated at byte 16 of 20\n');
  assert.equal(read(Buffer.concat([good, Buffer.alloc(8)])).error, 'restore plan: 8 bytes after its end\n');
  // the first object's kind: after magic, version, flags, the pipes' and memfds' counts (0) and the objects' count
  const withObj = encodePlan({ ...minimalPlan(), objs: [{ kind: 9, label: 'e', flags: 0 }] });
  assert.equal(read(at(48, 99n, withObj)).error, 'restore plan: objs[0].kind: unknown kind 99\n');
  assert.equal(read(at(48, 0n, withObj)).error, 'restore plan: objs[0].kind: unknown kind 0\n');
});

test('plan encoder: a value the schema refuses is a RestoreError naming the field', () => {
  const bad = (change) => { const p = everyKindPlan(); change(p); return () => encodePlan(p); };
  const err = (msg) => (e) => e instanceof RestoreError && e.message === msg;
  assert.throws(bad((p) => { p.tasks[0].fds[0].obj = 24; }), err('task 200: restore plan: tasks[0].fds[0].obj: index 24 out of range (24 objs)'));
  assert.throws(bad((p) => { p.objs[0].path = '/etc/\0passwd'; }), err('fd 3 (/etc/hosts): restore plan: objs[0].path: string contains a NUL byte'));
  assert.throws(bad((p) => { p.objs[9].nums = [1n]; }), err('fd 11 (timerfd): restore plan: objs[9].nums: 1 numbers, a TIMERFD has 7'));
  assert.throws(bad((p) => { p.objs[16].nums = [0n]; }), err('fd 17 (/dev/pts/5): restore plan: objs[16].master: element 0 is not a PTY_MASTER'));
  assert.throws(bad((p) => { p.tasks[0].mm = [1n]; }), err('task 200: restore plan: tasks[0].mm: 1 elements, not 11'));
  assert.throws(bad((p) => { p.tasks[0].pid = 1.5; }), err('task 1.5: restore plan: tasks[0].pid: 1.5 is not an integer'));
  assert.throws(bad((p) => { p.tasks[0].sigs[0].info = Buffer.alloc(3); }), err('task 200: restore plan: tasks[0].sigs[0].info: length 3, not 128'));
  assert.throws(bad((p) => { p.objs[0].kind = 42; }), err('fd 3 (/etc/hosts): restore plan: objs[0].kind: unknown kind 42'));
  assert.throws(bad((p) => { delete p.objs[0].path; }), err('fd 3 (/etc/hosts): restore plan: objs[0].path: missing'));
});
