// One task of the dump as the plan's task: its fds (objects of FileObjects), fs, memory (VMAs and the
// pages to read), signals, limits, timers, credentials, threads (with their signal frames) and seccomp.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { imageFileName, PE, taskPages, TASK, VMA, type PageReader } from '@ckpt/images';
import { buildId } from '../elf.js';
import { VMA_AREA_GUARD } from '../mm.js';
import { buildSigframe } from './frame.js';
import { planVdso } from './vdso-proxy.js';
import { checkAioRings, isAioVma, planAioRing } from './aio.js';
import { planProcPath } from '../kinds/procfs.js';
import type { FileObjects } from './objects.js';
import { b, load, n, PAGE, RestoreError } from './read.js';
import type { PlanTask } from './types.js';

const O_RDWR = 2;
const SIGSTOP = 19;
const SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6;
const STOP_SIGNALS = [SIGSTOP, 20, 21, 22]; // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU

/** What every task's planning shares. */
export interface TaskContext {
  dir: string;
  objects: FileObjects;
  /** filelocks.img entries by pid (empty without --file-locks) */
  locksByPid: Map<number, PlanTask['locks']>;
  /** our own credentials: the restorer changes a task's only when they differ */
  self: Creds;
  /** seccomp.img's filters, read by the first task that has any */
  seccomp?: any[];
  /** each task's ids.files_id (its fd table), by pid */
  filesIds?: Map<number, number>;
}

interface Creds { ids: number[]; groups: number[]; caps: bigint[] }

/** Our own credentials, to decide whether the restorer must change them. */
export function selfCreds(): Creds {
  const st = readFileSync('/proc/self/status', 'utf8');
  const line = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st)?.[1] ?? '').trim();
  const [ruid, euid, suid, fsuid] = line('Uid').split(/\s+/).map(Number);
  const [rgid, egid, sgid, fsgid] = line('Gid').split(/\s+/).map(Number);
  const groups = line('Groups').split(/\s+/).filter(Boolean).map(Number);
  const caps = ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map((k) => BigInt('0x' + line(k)));
  return { ids: [ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid], groups, caps };
}

/** The plan of pstree entry e, whose parent is task number `parent` of the plan (-1: the root). */
export function planTask(ctx: TaskContext, e: any, parent: number): PlanTask {
  const pid = n(e.pid);
  const who = `task ${pid}`;
  const tids: number[] = (e.threads as number[] | undefined)?.map(Number) ?? [pid];
  const cores = tids.map((tid) => load(ctx.dir, 'core', tid, `${who}${tid !== pid ? ` thread ${tid}` : ''}`).entries[0]);
  const core = cores[0];
  if (!core) throw new RestoreError(`${who}: ${imageFileName('core', pid)} is empty`);
  if (core.mtype !== 'X86_64') throw new RestoreError(`${who}: architecture ${core.mtype} is not supported`);
  const tc = core.tc ?? {};
  const state = n(tc.task_state, TASK.ALIVE);
  const t: PlanTask = {
    pid, parent, pgid: n(e.pgid), sid: n(e.sid), state, exitCode: n(tc.exit_code), stopSigno: 0, filesShared: 0,
    umask: 0o22, cwd: '', root: '', exe: '', pages: '', fds: [], files: [], epoll: [], ptimers: [], ctty: -1, cttyPgrp: 0, vmas: [], iovs: [], aios: [],
    vdso: { hint: 0n, expect: 0n, vvarLen: 0n, vdsoLen: 0n, proxy: 0, why: '', patches: [] }, mm: new Array(11).fill(0n), auxv: [], comm: String(tc.comm ?? ''),
    sigact: [], rlim: [], itimer: [], credsSet: 0, cred: new Array(8).fill(0), secbits: 0, groups: [], caps: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]],
    noNewPrivs: 0, dumpable: 1, pdeathSig: 0, personalitySet: 0, personality: 0n, threads: [], pagesBytes: 0,
    locks: ctx.locksByPid.get(pid) ?? [],
    subreaper: 0, oomSet: 0, oomAdj: 0, membarrier: 0, sigs: [],
  };
  if (state === TASK.DEAD) { // a zombie (CRIU writes it as dead): only pid, sid, pgid and its end
    t.threads.push({ tid: pid, clearTid: 0n, robust: 0n, robustLen: 0n, fsBase: 0n, gsBase: 0n, rseqPtr: 0n, rseqSize: 0, rseqSig: 0, comm: '', frame: Buffer.alloc(0),
      policy: 0, prio: 0, nice: 0, seccompStrict: 0, seccomp: [] });
    for (let k = 0; k < 64; k++) t.sigact.push([0n, 0n, 0n, 0n]);
    for (let k = 0; k < 16; k++) t.rlim.push([0n, 0n]);
    for (let k = 0; k < 3; k++) t.itimer.push([0n, 0n, 0n, 0n]);
    return t;
  }
  if (state !== TASK.ALIVE && state !== TASK.STOPPED) throw new RestoreError(`${who}: task state ${state} is not supported`);
  if (state === TASK.STOPPED) t.stopSigno = stopSignal(tc, who);

  planFds(ctx, t, n(e.ppid), who);
  planFs(ctx, t, who);
  const memory = planMemory(ctx, t, who);
  const pages = openPages(ctx, t, who);
  try {
    planTaskVdso(t, who, memory, cores, tids, pages);
    planPages(t, who, memory, pages);
  } finally {
    pages.close();
  }
  planSignalsLimitsTimers(t, tc, who);
  planCreds(ctx, t, core);
  planThreads(t, cores, tids, tc, who);
  planSeccomp(ctx, t, cores, tids, who);
  return t;
}

/** The signal a stopped task stopped with: CRIU's images without one (older CRIU) mean SIGSTOP. */
function stopSignal(tc: any, who: string): number {
  const sig = n(tc.stop_signo, SIGSTOP);
  if (!STOP_SIGNALS.includes(sig)) throw new RestoreError(`${who}: stop signal ${sig} is not a stop signal`);
  return sig;
}

/** fds: the objects of fdinfo's file ids; the controlling tty; epoll registrations */
function planFds(ctx: TaskContext, t: PlanTask, ppid: number, who: string): void {
  const ids = load(ctx.dir, 'ids', t.pid, who).entries[0] ?? {};
  // an fd table shared (CLONE_FILES) with the parent is cloned so; with any other task it cannot be, as CRIU
  const filesIds = (ctx.filesIds ??= new Map());
  const filesId = n(ids.files_id);
  if (filesId && t.parent >= 0 && filesIds.get(ppid) === filesId) t.filesShared = 1;
  else if (filesId) {
    const other = [...filesIds].find(([, id]) => id === filesId);
    if (other) throw new RestoreError(`${who}: shares its fd table with task ${other[0]}, which is not its parent`);
  }
  filesIds.set(t.pid, filesId);
  const fdinfo = load(ctx.dir, 'fdinfo', filesId, who).entries;
  for (const fe of fdinfo) {
    const what = `${who} fd ${fe.fd}`;
    t.fds.push({ fd: n(fe.fd), obj: ctx.objects.objFor(n(fe.id), what), cloexec: n(fe.flags) & 1 });
  }
  // a session leader whose terminal is a pty of the images takes it as its controlling tty
  const ct = ctx.objects.cttyOf.get(t.pid);
  if (ct && t.pid === t.sid) { t.ctty = ctx.objects.objectOf(ct.fileId) ?? -1; t.cttyPgrp = ct.pgrp; }
  // epoll registrations: by the first task that has the epoll and the target at their fd numbers
  for (const fd of t.fds) {
    for (const x of ctx.objects.epollTargets.get(fd.obj) ?? []) {
      if (!x.done && t.fds.some((g) => g.fd === x.tfd)) { t.epoll.push([fd.fd, x.tfd, x.events, x.data]); x.done = true; }
    }
  }
}

function planFs(ctx: TaskContext, t: PlanTask, who: string): void {
  const fs = load(ctx.dir, 'fs', t.pid, who).entries[0] ?? {};
  t.cwd = ctx.objects.regName(n(fs.cwd_id), `${who} cwd`);
  t.root = ctx.objects.regName(n(fs.root_id), `${who} root`);
  t.umask = n(fs.umask, 0o22);
  for (const [k, p, id] of [['cwd', t.cwd, n(fs.cwd_id)], ['root', t.root, n(fs.root_id)]] as const) {
    // a deleted directory: made again at its path, held open by the helper until every task is in it
    if (ctx.objects.isGhost(id)) ctx.objects.objFor(id, `${who} ${k}`);
    // under /proc/PID of the tree or of a dead process: there only once the helper made that PID
    else if (!planProcPath(ctx.objects, p, `${who} ${k}`) && !existsSync(p)) throw new RestoreError(`${who}: ${k} ${p} is missing`);
  }
}

/** Where a task's dumped pages may go: its private VMAs; the vvar/vDSO, whose contents the kernel gives (unless
 * proxied); the dump's vvar and vDSO VMA entries. */
interface MemoryLayout { privateRanges: [bigint, bigint][]; skip: [bigint, bigint][]; vvar?: any; vdso?: any }

/** mm: the mm fields, auxv, and the VMAs with the files (or memfds, ghost objects) they map */
function planMemory(ctx: TaskContext, t: PlanTask, who: string): MemoryLayout {
  const pid = t.pid;
  const objects = ctx.objects;
  const mm = load(ctx.dir, 'mm', pid, who).entries[0];
  if (!mm) throw new RestoreError(`${who}: ${imageFileName('mm', pid)} is empty`);
  t.exe = objects.regName(n(mm.exe_file_id), `${who} exe`);
  checkFile(objects.file(n(mm.exe_file_id)).reg, `${who} exe`);
  t.mm = [mm.mm_start_code, mm.mm_end_code, mm.mm_start_data, mm.mm_end_data, mm.mm_start_brk, mm.mm_brk, mm.mm_start_stack,
    mm.mm_arg_start, mm.mm_arg_end, mm.mm_env_start, mm.mm_env_end].map((v) => b(v));
  t.auxv = ((mm.mm_saved_auxv as bigint[] | undefined) ?? []).map((v) => b(v));
  if (t.auxv.length > 62) throw new RestoreError(`${who}: auxv has ${t.auxv.length} values`);
  t.dumpable = n(mm.dumpable, 1);
  t.thpDisabled = mm.thp_disabled ? 1 : 0;
  const fileIdx = new Map<string, number>();
  const layout: MemoryLayout = { privateRanges: [], skip: [] };
  let prevEnd = 0n;
  for (const v of (mm.vmas as any[]) ?? []) {
    const start = b(v.start), end = b(v.end), status = n(v.status);
    if (status === VMA_AREA_GUARD) { // guard pages, after the VMAs (CRIU's order): installed once the VMAs are there
      if (end <= start) throw new RestoreError(`${who}: guard area at 0x${start.toString(16)} in ${imageFileName('mm', pid)} is empty`);
      (t.guards ??= []).push([start, end]);
      continue;
    }
    if (start < prevEnd || end <= start) throw new RestoreError(`${who}: VMAs in ${imageFileName('mm', pid)} overlap or are unsorted at 0x${start.toString(16)}`);
    prevEnd = end;
    if (isAioVma(status)) { planAioRing(t, mm, v, who); layout.privateRanges.push([start, end]); continue; }
    if (!(status & VMA.VMA_AREA_REGULAR)) continue; // vsyscall
    const range = `VMA 0x${start.toString(16)}-0x${end.toString(16)}`;
    if (status & VMA.VMA_AREA_VVAR) { t.vdso.hint = start; t.vdso.vvarLen = end - start; layout.skip.push([start, end]); layout.vvar = v; continue; }
    if (status & VMA.VMA_AREA_VDSO) { t.vdso.expect = start; t.vdso.vdsoLen = end - start; layout.skip.push([start, end]); layout.vdso = v; continue; }
    if (status & VMA.VMA_AREA_SYSVIPC) {
      throw new RestoreError(`${who}: ${range} (status 0x${status.toString(16)}): SysV shared memory mappings are not supported yet`);
    }
    if (status & VMA.VMA_AREA_SOCKET) {
      // a packet socket's ring (CRIU's open_socket_map): mapped from the socket, set up again; no pages
      if (!objects.file(n(v.shmid))?.psk) throw new RestoreError(`${who}: ${range}: socket mapping of file id ${v.shmid}, which is no packet socket of ${imageFileName('files')}`);
      const obj = objects.objFor(n(v.shmid), `${who} ${range}`);
      const key = `obj:${obj}`;
      if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path: '', oflags: O_RDWR, memfd: -1, obj }); }
      t.vmas.push({ start, end, pgoff: b(v.pgoff), prot: n(v.prot), flags: n(v.flags) & ~0x30, file: fileIdx.get(key)!, madv: b(v.madv), addWrite: 0 });
      continue;
    }
    let file = -1;
    const shared = (n(v.flags) & 3) === 1;
    // the file's open mode as dumped (a MAP_SHARED mapping of an O_RDWR file may be mprotect()ed writable
    // later); images without it: CRIU's guess from the protection
    const oflags = v.fdflags !== undefined && v.fdflags !== null ? n(v.fdflags) & 3 : shared && n(v.prot) & 2 ? O_RDWR : 0;
    const memfdFile = status & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED | VMA.VMA_AREA_MEMFD) ? objects.file(n(v.shmid))?.memfd : undefined;
    if (memfdFile || status & VMA.VMA_ANON_SHARED) {
      // a memfd, or shared anonymous memory: one object for every task that maps it
      const m = memfdFile ? objects.memfdFor(n(memfdFile.inode_id), `${who} ${range}`) : objects.anonShmFor(n(v.shmid), end - start + b(v.pgoff), `${who} ${range}`);
      const mode = memfdFile ? oflags : O_RDWR;
      const key = `memfd${mode}:${m}`;
      if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path: '', oflags: mode, memfd: m }); }
      file = fileIdx.get(key)!;
    } else if (status & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED)) {
      const f = objects.file(n(v.shmid));
      if (!f?.reg) throw new RestoreError(`${who}: ${range}: file id ${v.shmid} is not in ${imageFileName('files')}`);
      if (objects.isGhost(n(v.shmid))) {
        // a deleted file: the ghost object, reopened by the task with what the mapping needs
        const obj = objects.objFor(n(v.shmid), `${who} ${range}`);
        const key = `obj${oflags}:${obj}`;
        if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path: '', oflags, memfd: -1, obj }); }
        file = fileIdx.get(key)!;
        if (!shared) layout.privateRanges.push([start, end]);
        t.vmas.push({ start, end, pgoff: b(v.pgoff), prot: n(v.prot), flags: n(v.flags) & ~0x30, file, madv: b(v.madv), addWrite: shared ? 0 : 1 });
        continue;
      }
      const path = f.reg.name as string;
      checkFile(f.reg, `${who} ${range}`);
      const key = `${oflags}:${path}`;
      if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path, oflags, memfd: -1 }); }
      file = fileIdx.get(key)!;
    }
    if (!shared) layout.privateRanges.push([start, end]);
    t.vmas.push({ start, end, pgoff: b(v.pgoff), prot: n(v.prot), flags: n(v.flags) & ~(0x10 | (file >= 0 ? 0x20 : 0)), file, madv: b(v.madv), addWrite: shared ? 0 : 1 });
  }
  checkAioRings(t, mm, who);
  if (t.vdso.hint && !t.vdso.expect) throw new RestoreError(`${who}: the images have a vvar area but no vDSO`);
  if (!t.vdso.hint && t.vdso.expect) throw new RestoreError(`${who}: the images have a vDSO but no vvar area`);
  return layout;
}

/** the vDSO: this kernel's in the dumped place, or the dumped one as a proxy (vdso-proxy.ts), whose VMAs are then
 * mapped like any other and whose pages are read like any private mapping's */
function planTaskVdso(t: PlanTask, who: string, layout: MemoryLayout, cores: any[], tids: number[], pages: PageReader): void {
  if (!layout.vdso) return;
  const ips = cores.map((c, j): [number, bigint] => [tids[j], b(c?.thread_info?.gpregs?.ip)]);
  const proxy = planVdso(pages, t, who, layout.vvar, layout.vdso, ips);
  if (!proxy) return;
  const { vvar, text } = proxy;
  t.vmas.push(vvar, text);
  t.vmas.sort((x, y) => (x.start < y.start ? -1 : 1));
  layout.skip = layout.skip.filter(([s]) => s !== text.start);
  layout.privateRanges.push([text.start, text.end]);
  layout.privateRanges.sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

/** the task's pagemap, and its pages image (t.pages), which must exist and hold every present run (checked
 * before anything reads it: the vDSO's pages are read first) */
function openPages(ctx: TaskContext, t: PlanTask, who: string): PageReader {
  const pagemapName = imageFileName('pagemap', t.pid);
  let reader;
  try {
    reader = taskPages(ctx.dir, t.pid);
  } catch (err) {
    throw new RestoreError(`${who}: corrupt image ${pagemapName}: ${(err as Error).message}`);
  }
  t.pages = reader.pagesFile;
  const pagesName = reader.pagesFile.split('/').pop();
  if (!existsSync(t.pages)) throw new RestoreError(`${who}: missing image ${pagesName}`);
  const pagesSize = BigInt(statSync(t.pages).size);
  let need = 0n;
  for (const r of reader.runs) {
    if (r.flags & PE.PARENT) throw new RestoreError(`${who}: incremental dumps (pages in a parent image) are not supported`);
    if (r.flags & PE.PRESENT && BigInt(r.fileOffset!) + BigInt(r.nrPages) * PAGE > need) need = BigInt(r.fileOffset!) + BigInt(r.nrPages) * PAGE;
  }
  if (need > pagesSize) throw new RestoreError(`${who}: ${pagesName} is ${pagesSize} bytes, ${pagemapName} needs ${need} (truncated pages image)`);
  return reader;
}

/** pages: the runs of pages-N.img the restorer reads into the task's private VMAs */
function planPages(t: PlanTask, who: string, { privateRanges, skip }: MemoryLayout, reader: PageReader): void {
  const pagemapName = imageFileName('pagemap', t.pid);
  const inside = (a: bigint, z: bigint) => {
    // [a, z) covered by consecutive private VMAs
    let at = a;
    for (const [s, e] of privateRanges) if (s <= at && at < e) at = e < z ? e : z;
    return at >= z;
  };
  const runs = [...reader.runs].sort((x, y) => (x.fileOffset ?? 0) - (y.fileOffset ?? 0));
  for (const r of runs) {
    if (!(r.flags & PE.PRESENT)) continue;
    const len = BigInt(r.nrPages) * PAGE;
    const off = BigInt(r.fileOffset!);
    const a = r.vaddr, z = r.vaddr + len;
    if (skip.some(([s, e]) => a >= s && z <= e)) continue; // vvar/vDSO contents come from the kernel
    if (!inside(a, z)) throw new RestoreError(`${who}: ${pagemapName} run 0x${a.toString(16)}+${r.nrPages} pages is outside every private VMA`);
    t.iovs.push({ base: a, len, off });
    t.pagesBytes += Number(len);
  }
}

/** signal actions, rlimits, itimers, POSIX timers, personality */
function planSignalsLimitsTimers(t: PlanTask, tc: any, who: string): void {
  const sa = (tc.sigactions as any[] | undefined) ?? [];
  if (sa.length !== 62) throw new RestoreError(`${who}: ${imageFileName('core', t.pid)} has ${sa.length} signal actions, 62 expected`);
  let k = 0;
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19) { t.sigact.push([0n, 0n, 0n, 0n]); continue; }
    const s = sa[k++];
    t.sigact.push([b(s.sigaction), b(s.flags), b(s.restorer), b(s.mask)]);
  }
  const rl = (tc.rlimits?.rlimits as any[] | undefined) ?? [];
  for (let r = 0; r < 16; r++) t.rlim.push(rl[r] ? [b(rl[r].cur), b(rl[r].max)] : [~0n & 0xffffffffffffffffn, 0xffffffffffffffffn]);
  for (const w of ['real', 'virt', 'prof']) {
    const it = tc.timers?.[w] ?? {};
    t.itimer.push([b(it.isec), b(it.iusec), b(it.vsec), b(it.vusec)]);
  }
  for (const pt of (tc.timers?.posix as any[] | undefined) ?? []) {
    const notify = n(pt.it_sigev_notify);
    if (notify & 2 /* SIGEV_THREAD: a glibc helper thread */ && !(notify & 4)) throw new RestoreError(`${who}: POSIX timer ${pt.it_id} with SIGEV_THREAD is not supported`);
    t.ptimers.push([pt.it_id, pt.clock_id, notify, pt.si_signo, pt.notify_thread_id, pt.sival_ptr, pt.isec, pt.insec, pt.vsec, pt.vnsec].map((v) => b(v)));
  }
  if (tc.personality) { t.personalitySet = 1; t.personality = BigInt('0x' + String(tc.personality)); }
  if (tc.loginuid !== undefined && tc.loginuid !== null) t.loginuid = [b(tc.loginuid)];
}

/** the leader's credentials; set by the restorer only when they are not ours */
function planCreds(ctx: TaskContext, t: PlanTask, core: any): void {
  const tcore = core.thread_core ?? {};
  const cr = tcore.creds;
  if (cr) {
    const self = ctx.self;
    t.cred = [cr.uid, cr.gid, cr.euid, cr.egid, cr.suid, cr.sgid, cr.fsuid, cr.fsgid].map((v: unknown) => n(v));
    t.secbits = n(cr.secbits);
    t.groups = ((cr.groups as number[] | undefined) ?? []).map(Number);
    const cap = (a: unknown) => { const x = (a as number[] | undefined) ?? [0, 0]; return [n(x[0]), n(x[1])]; };
    t.caps = [cap(cr.cap_inh), cap(cr.cap_prm), cap(cr.cap_eff), cap(cr.cap_bnd), cap(cr.cap_amb)];
    if ((t.caps[4][0] || t.caps[4][1]) && t.secbits & SECBIT_NO_CAP_AMBIENT_RAISE) {
      throw new RestoreError(`task ${t.pid}: ambient capabilities with SECBIT_NO_CAP_AMBIENT_RAISE set cannot be raised again`);
    }
    t.noNewPrivs = cr.no_new_privs ? 1 : 0;
    const capsBig = t.caps.map(([lo, hi]) => (BigInt(hi) << 32n) | BigInt(lo));
    const same = t.cred.every((v, j) => v === self.ids[j]) && t.groups.join() === self.groups.join() &&
      capsBig.every((v, j) => v === self.caps[j]) && !t.noNewPrivs && t.secbits === 0;
    t.credsSet = same ? 0 : 1;
  }
  t.pdeathSig = n(tcore.pdeath_sig);
}

/** threads (registers as a signal frame), pending signals, scheduling, subreaper, OOM score, membarrier registrations */
function planThreads(t: PlanTask, cores: any[], tids: number[], tc: any, who: string): void {
  for (const [j, c] of cores.entries()) {
    const tid = tids[j];
    if (!c?.thread_info?.gpregs) throw new RestoreError(`${who}: ${imageFileName('core', tid)} has no registers`);
    if (c.thread_info.gpregs.mode && c.thread_info.gpregs.mode !== 'NATIVE') throw new RestoreError(`${who}: thread ${tid} is a compat (32-bit) task`);
    const ti = c.thread_info, th = c.thread_core ?? {};
    for (const sg of (th.signals_p?.signals as any[] | undefined) ?? []) t.sigs.push({ tid, info: sigInfo(sg, `${who} thread ${tid}`) });
    const blocked = j === 0 ? b(tc.blk_sigset ?? th.blk_sigset) : b(th.blk_sigset ?? tc.blk_sigset);
    const gp = ti.gpregs;
    t.threads.push({
      tid, clearTid: b(ti.clear_tid_addr), robust: b(th.futex_rla), robustLen: b(th.futex_rla_len),
      fsBase: b(gp.fs_base), gsBase: b(gp.gs_base),
      rseqPtr: b(th.rseq_entry?.rseq_abi_pointer), rseqSize: n(th.rseq_entry?.rseq_abi_size), rseqSig: n(th.rseq_entry?.signature),
      comm: String(th.comm ?? (j === 0 ? tc.comm : '') ?? ''),
      frame: buildSigframe(gp, ti.fpregs, blocked, th.sas, tid === t.pid ? who : `${who} thread ${tid}`),
      policy: n(th.sched_policy), prio: n(th.sched_prio), nice: n(th.sched_nice), seccompStrict: 0, seccomp: [],
    });
  }
  for (const sg of (tc.signals_s?.signals as any[] | undefined) ?? []) t.sigs.push({ tid: 0, info: sigInfo(sg, who) });
  t.subreaper = tc.child_subreaper ? 1 : 0;
  if (tc.oom_score_adj !== undefined && n(tc.oom_score_adj) !== 0) { t.oomSet = 1; t.oomAdj = n(tc.oom_score_adj); }
  t.membarrier = n(tc.membarrier_registration_mask);
}

/** seccomp, per thread as dumped (CRIU's restore_seccomp): strict mode, or the thread's filter chain (followed
 * from its newest filter through `prev`). A chain dumped with TSYNC (as CRIU and we dump threads that all share
 * it) is the leader's only, its threads showing none: the leader installs it with TSYNC; so it does when every
 * thread names the same filter. Otherwise each thread installs its own chain, without TSYNC. */
function planSeccomp(ctx: TaskContext, t: PlanTask, cores: any[], tids: number[], who: string): void {
  const TSYNC = 1;
  const modes = cores.map((c) => c.thread_core?.seccomp_mode ?? 'disabled');
  const scIdx = cores.map((c) => c.thread_core?.seccomp_filter);
  const chains = modes.map((m, j) => {
    const thWho = tids[j] === t.pid ? who : `${who} thread ${tids[j]}`;
    if (m === 'strict' || m === 1) { t.threads[j].seccompStrict = 1; return []; }
    if (m === 'disabled' || m === 0) return [];
    if (m !== 'filter' && m !== 2) throw new RestoreError(`${thWho}: unknown seccomp mode ${m}`);
    ctx.seccomp ??= (load(ctx.dir, 'seccomp', who).entries[0]?.seccomp_filters as any[] | undefined) ?? [];
    const chain: any[] = [];
    for (let k: number | undefined = n(scIdx[j]); k !== undefined; ) {
      const f: any = ctx.seccomp[k];
      if (!f || chain.length > 64) throw new RestoreError(`${thWho}: ${imageFileName('seccomp')} has no filter ${k}`);
      chain.unshift(f);
      k = f.prev === undefined || f.prev === null ? undefined : n(f.prev);
    }
    return chain;
  });
  const lead = chains[0];
  const shared = lead.length > 0 && (
    (lead.every((f) => n(f.flags) & TSYNC) && chains.slice(1).every((c, j) => !c.length && !t.threads[j + 1].seccompStrict)) ||
    chains.every((c, j) => c.length && String(scIdx[j]) === String(scIdx[0])));
  const filters = (chain: any[], tsync: boolean) =>
    chain.map((f) => ({ flags: (n(f.flags) & ~TSYNC) | (tsync ? TSYNC : 0), insns: (f.filter as Buffer) ?? Buffer.alloc(0) }));
  if (shared) t.threads[0].seccomp = filters(lead, tids.length > 1);
  else chains.forEach((c, j) => { t.threads[j].seccomp = filters(c, false); });
}

function sigInfo(sg: any, who: string): Buffer {
  const info = sg.siginfo as Buffer | undefined;
  if (!info || info.length !== 128) throw new RestoreError(`${who}: pending signal with a siginfo of ${info?.length ?? 0} bytes (128 expected)`);
  return info;
}

/** size and build-id of an executable or mapped file, as CRIU checks them */
function checkFile(reg: any, what: string): void {
  const path = reg.name as string;
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new RestoreError(`${what}: file ${path} is missing`);
  }
  if (reg.size !== undefined && BigInt(st.size) !== BigInt(reg.size)) throw new RestoreError(`${what}: file ${path} has size ${st.size}, the dump recorded ${reg.size}`);
  if (reg.build_id?.length) {
    const id = buildId(path);
    if (id && id.join() !== (reg.build_id as number[]).map(Number).join()) throw new RestoreError(`${what}: file ${path} has another build-id than the dumped one`);
  }
}
