// A dump directory reduced to what crit diff compares, task by task, in
// CRIT's readable forms (hex addresses, flag names, IP addresses).
import { messagePlan, messageToJson, VMA, type Json, type Message } from '@ckpt/images';
import { FileNames } from '../explore/files.js';
import { protText } from '../explore/mems.js';
import { FILES_ID, ImageDir, isDead, openImageDir, type Obj } from '../explore/imagedir.js';
import { collectPs, type Task } from '../explore/ps.js';
import { collectSockets, type SocketInfo } from '../explore/sk.js';
import { rlimitName, signalName } from '../linux-names.js';

export interface TaskSnap {
  pid: number;
  comm: string;
  /** place in the tree: "0", "0.1" (second child of the first root), ... */
  place: string;
  alive: boolean;
  tree: Obj;
  /** task section: creds, rlimits, signal handlers, cwd/root, registers, ... */
  attrs: Obj;
  fds: Obj;
  fdTargets: Record<string, string>;
  sockets: Obj;
  mm: Obj;
  vmas: Obj;
  vmaNames: Record<string, string>;
}

export interface DumpSnap {
  dir: ImageDir;
  tasks: TaskSnap[];
  stats?: Obj;
}

const pretty = (type: string, msg: unknown): Obj => messageToJson(messagePlan(type), msg as Message, true) as Obj;
const hex = (v: unknown) => '0x' + BigInt(v as bigint).toString(16);

function without(o: Obj | undefined, ...keys: string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o ?? {})) if (!keys.includes(k)) out[k] = v;
  return out;
}

function regsOf(core: Obj): Json | undefined {
  const key = Object.keys(core).find((k) => k === 'thread_info' || k.startsWith('ti_'));
  return key ? (core[key].gpregs ?? core[key]) : undefined;
}

function taskAttrs(dir: ImageDir, t: Task, names: FileNames, byPlace: boolean): Obj {
  const core = pretty('core_entry', dir.first('core', t.pid));
  const tc: Obj = core.tc ?? {};
  const attrs: Obj = {};
  if (core.thread_core?.creds) attrs.creds = core.thread_core.creds;
  const rl: Obj[] = tc.rlimits?.rlimits ?? [];
  if (rl.length) attrs.rlimits = Object.fromEntries(rl.map((r, i) => [rlimitName(i), r]));
  const sa: Obj[] = tc.sigactions ?? [];
  if (sa.length) attrs.sigactions = Object.fromEntries(sa.map((s, i) => [signalName(i + 1), s]));
  attrs.tc = without(tc, 'comm', 'task_state', 'rlimits', 'sigactions');
  attrs.thread = without(core.thread_core, 'creds');
  if (dir.has('fs', t.pid)) {
    const fs = dir.first('fs', t.pid);
    attrs.cwd = names.describe('REG', Number(fs.cwd_id));
    attrs.root = names.describe('REG', Number(fs.root_id));
    if (fs.umask !== undefined) attrs.umask = '0' + Number(fs.umask).toString(8);
  }
  const regs: Obj = {};
  const tids = t.threads.length ? t.threads : [t.pid];
  tids.forEach((tid, i) => {
    if (!dir.has('core', tid)) return;
    const r = regsOf(tid === t.pid ? core : pretty('core_entry', dir.first('core', tid)));
    if (r !== undefined) regs[byPlace ? String(i) : String(tid)] = r;
  });
  attrs.regs = regs;
  return attrs;
}

function fileTarget(f: Obj | undefined, sock: SocketInfo | undefined): string {
  if (sock) return `${sock.kind} ${sock.type}${sock.state ? ' ' + sock.state : ''} ${sock.local} -> ${sock.remote}`;
  if (!f) return 'unknown file';
  if (f.reg) return String(f.reg.name);
  if (f.pipe) return `pipe:[${f.pipe.pipe_id}]`;
  if (f.fifo) return `fifo:[${f.fifo.pipe_id}]`;
  return String(f.type);
}

function fileFields(f: Obj | undefined): Obj {
  if (!f) return {};
  const sub = Object.keys(f).find((k) => k !== 'type' && k !== 'id' && typeof f[k] === 'object');
  return sub ? without(pretty('file_entry', f)[sub], 'id') : {};
}

type TaskFds = { fds: Obj; targets: Record<string, string>; sockets: Obj };

/** The fds of an fd table (fdinfo-<files_id>.img); tasks sharing a table share the result. */
function tableFds(dir: ImageDir, filesId: number, files: Map<number, Obj>, socks: Map<number, SocketInfo>): TaskFds {
  const fds: Obj = {};
  const targets: Record<string, string> = {};
  const sockets: Obj = {};
  for (const e of dir.maybeEntries('fdinfo', filesId) ?? []) {
    const id = Number(e.id);
    const f = files.get(id);
    const sock = socks.get(id);
    const target = fileTarget(f, sock);
    const fd = String(e.fd);
    targets[fd] = target;
    const info = pretty('fdinfo_entry', e);
    fds[fd] = { kind: String(e.type), target, ...without(info, 'id', 'fd', 'type'), ...(sock ? {} : fileFields(f)) };
    if (sock) {
      const { id: _id, ino: _ino, holders: _h, peer: _p, ...rest } = sock;
      sockets[fd] = rest;
    }
  }
  return { fds, targets, sockets };
}

const FILE_MAPPING = VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED;

/** A short name of a mapping for reports: protection and what backs it. */
function vmaName(v: Obj, names: FileNames): string {
  const st = Number(v.status);
  let what: string;
  if (st & FILE_MAPPING) what = names.describe('REG', Number(v.shmid));
  else if (st & VMA.VMA_AREA_HEAP) what = '[heap]';
  else if (st & VMA.VMA_AREA_VDSO) what = '[vdso]';
  else if (st & VMA.VMA_AREA_VVAR) what = '[vvar]';
  else if (st & VMA.VMA_AREA_VSYSCALL) what = '[vsyscall]';
  else if (st & VMA.VMA_AREA_STACK || Number(v.flags) & 0x100) what = '[stack]';
  else if (st & (VMA.VMA_ANON_SHARED | VMA.VMA_AREA_MEMFD)) what = '[shared]';
  else what = '[anon]';
  return `${protText(Number(v.prot))} ${what}`;
}

export function snapshot(path: string, opts: { byPlace: boolean; attrs: boolean; fds: boolean; mems: boolean }): DumpSnap {
  const dir = openImageDir(path);
  const names = new FileNames(dir);
  const files = new Map((dir.maybeEntries('files') ?? []).map((f) => [Number(f.id), f]));
  const socks = opts.fds ? new Map(collectSockets(dir).map((s) => [s.id, s])) : new Map<number, SocketInfo>();
  const tasks: TaskSnap[] = [];
  const tables = new Map<number, TaskFds>();
  const walk = (t: Task, place: string) => {
    const alive = !isDead(dir, t.pid);
    const snap: TaskSnap = {
      pid: t.pid, comm: t.comm, place, alive,
      tree: { comm: t.comm, state: t.state, ppid: t.ppid, pgid: t.pgid, sid: t.sid, threads: opts.byPlace ? t.threads.length : t.threads },
      attrs: {}, fds: {}, fdTargets: {}, sockets: {}, mm: {}, vmas: {}, vmaNames: {},
    };
    if (alive && opts.attrs) snap.attrs = taskAttrs(dir, t, names, opts.byPlace);
    if (alive && opts.fds && dir.has('ids', t.pid)) {
      const filesId = Number(dir.first('ids', t.pid, FILES_ID).files_id);
      let r = tables.get(filesId);
      if (!r) tables.set(filesId, (r = tableFds(dir, filesId, files, socks)));
      snap.fds = r.fds;
      snap.fdTargets = r.targets;
      snap.sockets = r.sockets;
    }
    if (alive && opts.mems && dir.has('mm', t.pid)) {
      const mm = dir.first('mm', t.pid);
      snap.mm = without(pretty('mm_entry', mm), 'vmas', 'exe_file_id');
      snap.mm.exe = names.describe('REG', Number(mm.exe_file_id));
      for (const v of (mm.vmas ?? []) as Obj[]) {
        const key = hex(v.start);
        const fields = without(pretty('vma_entry', v), 'start', 'shmid');
        if (Number(v.status) & FILE_MAPPING) fields.file = names.describe('REG', Number(v.shmid));
        snap.vmas[key] = fields;
        snap.vmaNames[key] = vmaName(v, names);
      }
    }
    tasks.push(snap);
    t.children.forEach((k, i) => walk(k, `${place}.${i}`));
  };
  collectPs(dir).forEach((r, i) => walk(r, String(i)));
  const stats = dir.maybeEntries('stats', 'dump')?.[0];
  return { dir, tasks, stats: stats ? pretty('stats_entry', stats) : undefined };
}

