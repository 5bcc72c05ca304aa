// The file handles of fsnotify marks (inotify watches, fanotify inode marks; CRIU's fsnotify.c): fdinfo shows
// each as "fhandle-bytes:%x fhandle-type:%x f_handle:%02x...", the image keeps it as fh_entry (its bytes as
// 64-bit words), and the dump finds its object's path with open_by_handle_at on the task's mounts.
import { readFileSync } from 'node:fs';
import { native } from '../native.js';

/** "k:v k:v ..." of an fdinfo mark line, after its prefix */
export function markFields(s: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const w of s.trim().split(/\s+/)) {
    const i = w.indexOf(':');
    if (i > 0) kv[w.slice(0, i)] = w.slice(i + 1);
  }
  return kv;
}

/**
 * The file handle of a mark's fields as fh_entry holds it (at least 16 words, as CRIU writes it) and the path
 * of its object on the filesystem with kernel device number sdev (null when no mount of the task finds it).
 */
export function markHandle(pid: number, kv: Record<string, string>, sdev: number): { fh: { bytes: number; type: number; handle: bigint[]; path?: string }; path: string | null } {
  const bytes = parseInt(kv['fhandle-bytes'] ?? '0', 16), type = parseInt(kv['fhandle-type'] ?? '0', 16);
  const raw = Buffer.from(kv.f_handle ?? '', 'hex');
  const padded = Buffer.alloc(Math.max(128, Math.ceil(raw.length / 8) * 8));
  raw.copy(padded);
  const handle: bigint[] = [];
  for (let o = 0; o < padded.length; o += 8) handle.push(padded.readBigUInt64LE(o));
  return { fh: { bytes, type, handle }, path: handlePath(pid, sdev, type, raw) };
}

/** Path of the object behind a file handle on the filesystem with kernel device number sdev. */
function handlePath(pid: number, sdev: number, type: number, handle: Buffer): string | null {
  const want = `${sdev >>> 20}:${sdev & 0xfffff}`;
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'latin1').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || f[2] !== want) continue;
    const p = native().handlePath(f[4], type, handle);
    if (p !== null) return p;
  }
  return null;
}
