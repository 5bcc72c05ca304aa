// The GNU build-id of an ELF file, as CRIU stores it: the note's descriptor as u32 LE words.
import { closeSync, openSync, readSync } from 'node:fs';
import { native } from './native.js';

export function buildId(path: string): number[] | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return buildIdOf(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The build-id of a task's open file, read through a duplicate of it (pidfd_getfd), as CRIU reads it through
 * the fd its parasite sends: opening the file again would break a write lease on it (the open waits out
 * lease-break-time, and the holder gets SIGIO). A write-only file gives none, as with CRIU.
 */
export function taskFileBuildId(pid: number, fd: number, flags: number): number[] | undefined {
  if ((flags & 3) === 1) return undefined;
  const n = native();
  let local: number;
  try {
    local = n.getFd(pid, fd);
  } catch {
    return undefined;
  }
  try {
    return buildIdOf(local);
  } catch {
    return undefined;
  } finally {
    n.close(local);
  }
}

function buildIdOf(fd: number): number[] | undefined {
  const read = (off: number, len: number) => {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, off);
    return b.subarray(0, n);
  };
  const h = read(0, 64);
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return undefined;
  const phoff = Number(h.readBigUInt64LE(32)), phentsize = h.readUInt16LE(54), phnum = h.readUInt16LE(56);
  const ph = read(phoff, phentsize * phnum);
  for (let i = 0; i < phnum; i++) {
    const p = ph.subarray(i * phentsize);
    if (p.length < 56 || p.readUInt32LE(0) !== 4 /* PT_NOTE */) continue;
    const notes = read(Number(p.readBigUInt64LE(8)), Math.min(Number(p.readBigUInt64LE(32)), 1 << 16));
    for (let o = 0; o + 12 <= notes.length;) {
      const namesz = notes.readUInt32LE(o), descsz = notes.readUInt32LE(o + 4), type = notes.readUInt32LE(o + 8);
      const nameOff = o + 12, descOff = nameOff + ((namesz + 3) & ~3);
      if (type === 3 && notes.toString('latin1', nameOff, nameOff + 3) === 'GNU') {
        const words: number[] = [];
        for (let k = 0; k + 4 <= descsz; k += 4) words.push(notes.readUInt32LE(descOff + k));
        return words;
      }
      o = descOff + ((descsz + 3) & ~3);
    }
  }
  return undefined;
}
