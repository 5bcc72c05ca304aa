// Plain readers of /proc/PID/... files. No ptrace, no image knowledge.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function procPath(pid: number, leaf: string, tid?: number): string {
  return tid === undefined ? `/proc/${pid}/${leaf}` : `/proc/${pid}/task/${tid}/${leaf}`;
}

export function readText(path: string): string {
  return readFileSync(path, 'latin1');
}

/** /proc/PID/status as key -> value text. */
export function readStatus(pid: number, tid?: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readText(procPath(pid, 'status', tid)).split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** /proc/PID/stat fields; index 1 = pid, 2 = comm, 3 = state, ... as in proc(5). */
export function readStat(pid: number, tid?: number): string[] {
  const t = readText(procPath(pid, 'stat', tid));
  const open = t.indexOf('(');
  const close = t.lastIndexOf(')');
  const rest = t.slice(close + 2).trim().split(' ');
  return ['', t.slice(0, open).trim(), t.slice(open + 1, close), ...rest];
}

export function listThreads(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
}

/** Children of every thread of PID, in the order the kernel lists them. */
export function listChildren(pid: number): number[] {
  const out: number[] = [];
  for (const tid of listThreads(pid)) {
    let text = '';
    try {
      text = readText(procPath(pid, 'children', tid));
    } catch {
      continue;
    }
    for (const w of text.split(/\s+/)) if (w) out.push(Number(w));
  }
  return out;
}

export interface MapLine {
  start: bigint;
  end: bigint;
  perms: string;
  pgoff: bigint;
  dev: string;
  ino: number;
  path: string;
  vmFlags: string[];
  /** smaps KernelPageSize in kB (a hugetlb mapping's huge page size) */
  pageKb?: number;
}

/** /proc/PID/smaps: one record per mapping with its VmFlags. */
export function readSmaps(pid: number): MapLine[] {
  const out: MapLine[] = [];
  const re = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/;
  for (const line of readText(procPath(pid, 'smaps')).split('\n')) {
    const m = re.exec(line);
    if (m) {
      out.push({
        start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], pgoff: BigInt('0x' + m[4]),
        dev: m[5], ino: Number(m[6]), path: m[7], vmFlags: [],
      });
    } else if (line.startsWith('KernelPageSize:') && out.length) {
      out[out.length - 1].pageKb = parseInt(line.slice(15), 10);
    } else if (line.startsWith('VmFlags:') && out.length) {
      out[out.length - 1].vmFlags = line.slice(8).trim().split(/\s+/);
    }
  }
  return out;
}

export function readAuxv(pid: number): bigint[] {
  const b = readFileSync(procPath(pid, 'auxv'));
  const out: bigint[] = [];
  for (let i = 0; i + 8 <= b.length; i += 8) out.push(b.readBigUInt64LE(i));
  return out;
}

export function listFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
}

export function fdLink(pid: number, fd: number): string {
  return readlinkSync(`/proc/${pid}/fd/${fd}`);
}

/** /proc/PID/fdinfo/FD: pos, flags (octal), mnt_id, ino and type-specific lines (all lines kept). */
export function readFdinfo(pid: number, fd: number): { pos: bigint; flags: number; mntId: number; lines: string[] } {
  const lines = readText(`/proc/${pid}/fdinfo/${fd}`).split('\n').filter(Boolean);
  let pos = 0n, flags = 0, mntId = -1;
  for (const l of lines) {
    if (l.startsWith('pos:')) pos = BigInt(l.slice(4).trim());
    else if (l.startsWith('flags:')) flags = parseInt(l.slice(6).trim(), 8);
    else if (l.startsWith('mnt_id:')) mntId = Number(l.slice(7).trim());
  }
  return { pos, flags, mntId, lines };
}

/** Namespace inode of /proc/PID/ns/NAME (a thread's: /proc/PID/task/TID/ns/NAME). */
export function nsInode(pid: number, name: string, tid?: number): number {
  const l = readlinkSync(tid === undefined ? `/proc/${pid}/ns/${name}` : `/proc/${pid}/task/${tid}/ns/${name}`);
  const m = /\[(\d+)\]/.exec(l);
  return m ? Number(m[1]) : 0;
}

export function exists(path: string): boolean {
  try {
    readlinkSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EINVAL';
  }
}

export interface ProcTimer { id: number; signo: number; sivalPtr: bigint; notify: string; toThread: boolean; notifyId: number; clockId: number }

/** /proc/PID/timers: POSIX timers (ID, signal: signo/sival_ptr, notify: how/pid.N|tid.N, ClockID). */
export function readTimers(pid: number): ProcTimer[] {
  let text = '';
  try {
    text = readText(procPath(pid, 'timers'));
  } catch {
    return [];
  }
  const out: ProcTimer[] = [];
  let cur: ProcTimer | undefined;
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i), v = line.slice(i + 1).trim();
    if (k === 'ID') {
      cur = { id: Number(v), signo: 0, sivalPtr: 0n, notify: 'signal', toThread: false, notifyId: 0, clockId: 0 };
      out.push(cur);
    } else if (!cur) continue;
    else if (k === 'signal') {
      const [sig, ptr] = v.split('/');
      cur.signo = Number(sig);
      cur.sivalPtr = BigInt('0x' + (ptr || '0'));
    } else if (k === 'notify') {
      const [how, who] = v.split('/');
      cur.notify = how;
      cur.toThread = (who ?? '').startsWith('tid.');
      cur.notifyId = Number((who ?? '').replace(/^\w+\./, '')) || 0;
    } else if (k === 'ClockID') cur.clockId = Number(v);
  }
  return out;
}
