// Images -> restore plan: every decision that needs the format is made here, in TypeScript; the helper
// (native/restore-helper.c) gets plain numbers, strings and bytes. Shared resources are resolved once:
// each open file description (file id) becomes one object the helper creates before forking
// (objects.ts), and every task (task.ts) dup2()s the objects it uses to its fd numbers.
import { existsSync } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import { FileObjects } from './objects.js';
import { hasImage, load, n, b, RestoreError } from './read.js';
import { planTask, selfCreds, type TaskContext } from './task.js';
import type { InheritFd, Plan, PlanOptions, PlanTask } from './types.js';

export { RestoreError } from './read.js';
export type { Ghost, InheritFd, Memfd, Obj, Plan, PlanOptions, PlanTask } from './types.js';

/** `fd[N]:RESOURCE` as CRIU's --inherit-fd takes it: socket:[INO], pipe:[INO], or a file path. */
export function parseInheritFd(arg: string): InheritFd {
  const m = /^fd\[(\d+)\]:(.+)$/.exec(arg);
  if (!m) throw new RestoreError(`--inherit-fd ${arg}: expected fd[N]:RESOURCE (socket:[INODE], pipe:[INODE] or a path)`);
  const fd = Number(m[1]);
  if (fd <= 2) throw new RestoreError(`--inherit-fd ${arg}: fd ${fd} is one of the caller's standard streams`);
  return { fd, key: m[2] };
}

export function buildPlan(o: PlanOptions): Plan {
  const dir = o.dir;
  if (!existsSync(dir)) throw new RestoreError(`images directory ${dir} does not exist`);
  const inv = load(dir, 'inventory', 'inventory').entries[0];
  if (!inv) throw new RestoreError(`${imageFileName('inventory')} has no entry`);
  if (inv.fdinfo_per_id === false) throw new RestoreError('images without fdinfo_per_id are not supported');
  const pstree = load(dir, 'pstree', 'process tree').entries;
  if (!pstree.length) throw new RestoreError(`${imageFileName('pstree')} lists no task`);
  const plan: Plan = { detached: o.detached, shellJob: o.shellJob, callerTty: false, memfds: [], ghosts: [], inheritFds: [], pipes: [], objs: [], tasks: [] };
  const ctx: TaskContext = { dir, objects: new FileObjects(plan, o), locksByPid: fileLocks(o), self: selfCreds() };
  const pidIndex = new Map<number, number>();
  for (const [i, e] of pstree.entries()) pidIndex.set(n(e.pid), i);
  for (const [i, e] of pstree.entries()) {
    const parent = n(e.ppid) === 0 || i === 0 ? -1 : pidIndex.get(n(e.ppid));
    if (parent === undefined || parent >= i) throw new RestoreError(`task ${n(e.pid)}: parent ${e.ppid} is not listed before it in ${imageFileName('pstree')}`);
    plan.tasks.push(planTask(ctx, e, parent));
  }
  ctx.objects.checkAllUsed();
  plan.inheritFds = [...new Set((o.inheritFds ?? []).map((i) => i.fd))];
  return plan;
}

/** filelocks.img by pid; as CRIU, without --file-locks the locks in the images are not taken */
function fileLocks(o: PlanOptions): Map<number, PlanTask['locks']> {
  const locksByPid = new Map<number, PlanTask['locks']>();
  if (!o.fileLocks || !hasImage(o.dir, 'filelocks')) return locksByPid;
  for (const e of load(o.dir, 'filelocks', 'file locks').entries) {
    const kind = n(e.flag);
    if (kind !== 1 && kind !== 2 && kind !== 4) throw new RestoreError(`task ${e.pid} fd ${e.fd}: file lock of kind ${kind} (lease or mandatory) is not supported`);
    const l = locksByPid.get(n(e.pid)) ?? [];
    l.push([kind, n(e.type), b(e.start), b(e.len), n(e.fd)]);
    locksByPid.set(n(e.pid), l);
  }
  return locksByPid;
}

/** The plan in the helper's wire form: u64 LE numbers; strings and bytes as u64 length + data padded to 8. */
export function encodePlan(p: Plan): Buffer {
  const parts: Buffer[] = [];
  const u64 = (v: number | bigint) => { const x = Buffer.alloc(8); x.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); parts.push(x); };
  const bytes = (d: Buffer) => { u64(d.length); parts.push(d); const pad = (8 - (d.length % 8)) % 8; if (pad) parts.push(Buffer.alloc(pad)); };
  const str = (s: string) => bytes(Buffer.from(s, 'utf8'));
  u64(0x31545352544b5043n);
  u64((p.detached ? 1 : 0) | (p.shellJob ? 2 : 0));
  u64(p.tasks.length); u64(p.objs.length); u64(p.pipes.length); u64(p.memfds.length);
  for (const pp of p.pipes) { u64(pp.size); bytes(pp.data); }
  for (const m of p.memfds) {
    str(m.label); str(m.name); u64(m.anon ? 1 : 0); u64(m.size); u64(m.seals); u64(m.mode); u64(m.uid); u64(m.gid); str(m.pages);
    u64(m.runs.length); for (const r of m.runs) { u64(r.off); u64(r.len); u64(r.fileOff); }
  }
  for (const o of p.objs) {
    u64(o.kind); str(o.label);
    if (o.kind === 1 || o.kind === 4) {
      str(o.path!); u64(o.flags); u64(o.pos ?? 0n);
      if (o.kind === 4) { u64(o.fifo?.size ?? 0); bytes(o.fifo?.data ?? Buffer.alloc(0)); }
    } else if (o.kind === 5) { u64(o.inheritFd!); }
    else if (o.kind === 12) { u64(o.flags); }
    else if (o.kind === 13 || o.kind === 14) {
      u64(o.flags); const nums = o.nums ?? []; u64(nums.length); for (const v of nums) u64(v); bytes(o.data ?? Buffer.alloc(0));
    }
    else if (o.kind >= 6) {
      u64(o.flags); u64(o.pos ?? 0n);
      const nums = o.nums ?? []; u64(nums.length); for (const v of nums) u64(v);
      const w = o.watches ?? []; u64(w.length); for (const x of w) { u64(x.wd); u64(x.mask); str(x.path); }
    }
    else if (o.kind === 2) { u64(o.pipeNo!); u64(o.end!); u64(o.flags); }
    else {
      const s = o.sk!;
      u64(s.type); u64(s.state); u64(s.backlog); u64(s.peer < 0 ? -1 : s.peer); u64(s.listener < 0 ? -1 : s.listener); u64(s.sndbuf); u64(s.rcvbuf); u64(s.shutdown); u64(s.passcred);
      u64(o.flags); bytes(s.name); u64(s.queue.length); for (const q of s.queue) bytes(q);
    }
    for (const v of o.fown ?? [0, 0, 0]) u64(v);
  }
  for (const t of p.tasks) {
    u64(t.pid); u64(t.parent < 0 ? -1 : t.parent); u64(t.pgid); u64(t.sid); u64(t.state); u64(t.exitCode);
    u64(t.umask); str(t.cwd); str(t.root); str(t.exe); str(t.pages);
    u64(t.fds.length); for (const f of t.fds) { u64(f.fd); u64(f.obj); u64(f.cloexec); }
    u64(t.files.length); for (const f of t.files) { str(f.path); u64(f.oflags); u64(f.memfd); u64(f.obj ?? -1); }
    u64(t.vmas.length); for (const v of t.vmas) { u64(v.start); u64(v.end); u64(v.pgoff); u64(v.prot); u64(v.flags); u64(v.file < 0 ? -1 : v.file); u64(v.madv); u64(v.addWrite); }
    u64(t.iovs.length); for (const v of t.iovs) { u64(v.base); u64(v.len); u64(v.off); }
    u64(t.vdso.hint); u64(t.vdso.expect); u64(t.vdso.vvarLen); u64(t.vdso.vdsoLen);
    u64(t.vdso.proxy); str(t.vdso.why); u64(t.vdso.patches.length); for (const v of t.vdso.patches) { u64(v.at); u64(v.rel); bytes(v.code); }
    for (const v of t.mm) u64(v);
    u64(t.auxv.length); for (const v of t.auxv) u64(v);
    str(t.comm);
    for (const s of t.sigact) for (const v of s) u64(v);
    for (const r of t.rlim) for (const v of r) u64(v);
    for (const r of t.itimer) for (const v of r) u64(v);
    u64(t.credsSet); for (const v of t.cred) u64(v); u64(t.secbits);
    u64(t.groups.length); for (const g of t.groups) u64(g);
    for (const c of t.caps) for (const v of c) u64(v);
    u64(t.noNewPrivs); u64(t.dumpable); u64(t.pdeathSig); u64(t.personalitySet); u64(t.personality);
    u64(t.threads.length);
    for (const h of t.threads) {
      u64(h.tid); u64(h.clearTid); u64(h.robust); u64(h.robustLen); u64(h.fsBase); u64(h.gsBase); u64(h.rseqPtr); u64(h.rseqSize); u64(h.rseqSig);
      str(h.comm); bytes(h.frame);
    }
    u64(t.locks.length); for (const l of t.locks) for (const v of l) u64(v);
    u64(t.nice); u64(t.policy); u64(t.prio); u64(t.subreaper); u64(t.oomSet); u64(t.oomAdj);
    u64(t.sigs.length); for (const q of t.sigs) { u64(q.tid); bytes(q.info); }
    u64(t.seccomp.length); for (const f of t.seccomp) { u64(f.flags); bytes(f.insns); }
    u64(t.epoll.length); for (const e of t.epoll) for (const v of e) u64(v);
    u64(t.ptimers.length); for (const pt of t.ptimers) for (const v of pt) u64(v);
    u64(t.ctty); u64(t.cttyPgrp);
  }
  return Buffer.concat(parts);
}
