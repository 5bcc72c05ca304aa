// The GNU build-id of an ELF file, as CRIU stores it: the note's descriptor as u32 LE words.
import { closeSync, openSync, readSync } from 'node:fs';

export function buildId(path: string): number[] | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
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
  } finally {
    closeSync(fd);
  }
}
