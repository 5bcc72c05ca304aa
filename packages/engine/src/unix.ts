// Unix sockets: which socket inodes are AF_UNIX (/proc/net/unix). Dumping them is not done yet:
// such fds are refused by name until this module produces unix_sk_entry records.
import { readFileSync } from 'node:fs';
import { DumpError } from './log.js';

export class UnixSockets {
  private inodes = new Map<number, { path: string; type: number; state: number }>();
  constructor(pid: number) {
    const text = readFileSync(`/proc/${pid}/net/unix`, 'latin1');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 7) continue;
      this.inodes.set(Number(f[6]), { type: parseInt(f[4], 16), state: parseInt(f[5], 16), path: f[7] ?? '' });
    }
  }
  isUnix(ino: number): boolean {
    return this.inodes.has(ino);
  }
  entry(pid: number, fd: number, _id: number, ino: number, _flags: number): any {
    throw new DumpError(`Can't dump fd ${fd} of task ${pid}: unix socket (inode ${ino}) dumping is not supported yet`);
  }
}
