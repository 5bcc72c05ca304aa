// The bytes of an archive file as a tar stream: read as they are (.tar), or
// decompressed as they are read (gzip, zstd). Synchronous, because the image
// readers are; memory stays at one input piece and its output. Which one is
// told by the first bytes, not by the file's name.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Gunzip } from 'fflate';
import { Decompress as Unzstd } from 'fzstd';
import { ImageError } from '@ckpt/images';

export type Compression = 'none' | 'gzip' | 'zstd';

const PIECE = 1 << 20;

/** The compression of a file, by its magic; other known compressions are refused by name. */
export function compressionOf(head: Buffer, file: string): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  const other = head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2'
    : head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz' : undefined;
  if (other) throw new ImageError(`${other}-compressed archives are not supported (gzip, zstd or plain tar)`, { file });
  return 'none';
}

/** A forward-only stream of the tar bytes. */
export interface TarBytes {
  /** offset of the next byte in the tar stream */
  readonly pos: number;
  /** the next n bytes, fewer only at the end */
  read(n: number): Buffer;
  /** passes over n bytes; returns how many there were */
  skip(n: number): number;
  close(): void;
}

/** An uncompressed tar: reads are preads, skips cost nothing. */
export class PlainBytes implements TarBytes {
  pos = 0;
  readonly size: number;
  constructor(private fd: number) {
    this.size = fstatSync(fd).size;
  }
  read(n: number): Buffer {
    const len = Math.max(0, Math.min(n, this.size - this.pos));
    const out = Buffer.allocUnsafe(len);
    const got = preadFully(this.fd, out, 0, len, this.pos);
    this.pos += got;
    return got < len ? out.subarray(0, got) : out;
  }
  skip(n: number): number {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }
  close(): void {}
}

export function preadFully(fd: number, out: Buffer, at: number, len: number, position: number): number {
  let got = 0;
  while (got < len) {
    const r = readSync(fd, out, at + got, len - got, position + got);
    if (r === 0) break;
    got += r;
  }
  return got;
}

/** The decompressed bytes of a gzip or zstd file, from its start. */
export class InflatedBytes implements TarBytes {
  pos = 0;
  private queue: Uint8Array[] = [];
  /** unread bytes of queue[0] start here */
  private head = 0;
  private inPos = 0;
  private ended = false;
  private done = false;
  private inflater: { push(chunk: Uint8Array, final?: boolean): void };
  private readonly inSize: number;
  /** CRC-32 of the output so far, when the whole stream is to be checked (see finish) */
  private crc = 0;

  /** verify: the caller reads the stream to its end and calls finish(), which checks it whole */
  constructor(private fd: number, private kind: 'gzip' | 'zstd', private file: string, private verify = false) {
    this.inSize = fstatSync(fd).size;
    // fzstd takes a cut-off stream for a whole one: the frames are walked first
    if (verify && kind === 'zstd') checkZstdFrames(fd, this.inSize, file);
    const ondata = (chunk: Uint8Array, final?: boolean) => {
      if (chunk.length) this.queue.push(chunk);
      if (this.verify && kind === 'gzip') this.crc = crc32(chunk, this.crc);
      if (final) this.done = true;
    };
    this.inflater = kind === 'gzip' ? new Gunzip(ondata) : new Unzstd(ondata);
  }

  /** the next piece of output (at most max bytes), or undefined at the end */
  private piece(max: number): Uint8Array | undefined {
    while (!this.queue.length) {
      if (this.ended) return undefined;
      this.feed();
    }
    const q = this.queue[0];
    const n = Math.min(max, q.length - this.head);
    const out = q.subarray(this.head, this.head + n);
    this.head += n;
    if (this.head === q.length) {
      this.queue.shift();
      this.head = 0;
    }
    this.pos += n;
    return out;
  }

  private feed(): void {
    // a new buffer each time: the decompressors may keep a reference to their input
    const buf = Buffer.allocUnsafe(Math.min(PIECE, Math.max(0, this.inSize - this.inPos)));
    const got = preadFully(this.fd, buf, 0, buf.length, this.inPos);
    this.inPos += got;
    const last = this.inPos >= this.inSize || got === 0;
    try {
      this.inflater.push(got < buf.length ? buf.subarray(0, got) : buf, last);
    } catch (e) {
      throw new ImageError(`bad ${this.kind} data near compressed byte ${this.inPos}: ${(e as Error).message}`, { file: this.file });
    }
    if (last) {
      this.ended = true;
      if (!this.done && this.kind === 'zstd') throw new ImageError('truncated zstd data (the compressed stream ends early)', { file: this.file });
    }
  }

  read(n: number): Buffer {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      parts.push(p);
      got += p.length;
    }
    return parts.length === 1 ? Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].length) : Buffer.concat(parts, got);
  }

  /** copies n bytes into out at `at`; returns how many there were */
  readInto(out: Buffer, at: number, n: number): number {
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      out.set(p, at + got);
      got += p.length;
    }
    return got;
  }

  skip(n: number): number {
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      got += p.length;
    }
    return got;
  }

  /**
   * Reads what is left and checks the whole stream: for a single-member gzip
   * file (what engines write) its CRC-32 and size, which fflate leaves unchecked.
   */
  finish(): void {
    while (this.skip(1 << 30) > 0);
    if (this.kind !== 'gzip' || !this.verify || this.inSize < 18) return;
    const trailer = Buffer.alloc(8);
    preadFully(this.fd, trailer, 0, 8, this.inSize - 8);
    if (trailer.readUInt32LE(4) === this.pos % 2 ** 32 && trailer.readUInt32LE(0) !== this.crc >>> 0) {
      throw new ImageError('corrupt gzip data (CRC-32 mismatch)', { file: this.file });
    }
  }

  close(): void {}
}

/**
 * Walks the frames and block headers of a zstd file (RFC 8878 §3.1): each
 * frame must end with its last block, and the file with a frame.
 */
function checkZstdFrames(fd: number, size: number, file: string): void {
  const cut = (what: string) => new ImageError(`truncated zstd data (${what})`, { file });
  const b = Buffer.alloc(18);
  let pos = 0;
  while (pos < size) {
    if (preadFully(fd, b, 0, 8, pos) < 8) throw cut(`a frame header at byte ${pos} is cut short`);
    const magic = b.readUInt32LE(0);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      pos += 8 + b.readUInt32LE(4); // a skippable frame
      continue;
    }
    if (magic !== 0xfd2fb528) throw new ImageError(`not zstd data at byte ${pos}`, { file });
    const fhd = b[4];
    const single = (fhd >> 5) & 1;
    const fcs = [single, 2, 4, 8][fhd >> 6];
    const dict = [0, 1, 2, 4][fhd & 3];
    pos += 5 + (single ? 0 : 1) + dict + fcs;
    for (let last = 0; !last; ) {
      if (preadFully(fd, b, 0, 3, pos) < 3) throw cut(`a block header at byte ${pos} is missing`);
      const h = b[0] | (b[1] << 8) | (b[2] << 16);
      last = h & 1;
      const type = (h >> 1) & 3;
      pos += 3 + (type === 1 ? 1 : h >>> 3);
      if (pos > size) throw cut(`a block runs past the end of the file (${size} bytes)`);
    }
    pos += (fhd >> 2) & 1 ? 4 : 0; // content checksum
    if (pos > size) throw cut(`the last block ends past the end of the file`);
  }
}

/** Opens an archive file; the caller closes the fd. */
export function openArchiveFile(path: string): { fd: number; compression: Compression } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    preadFully(fd, head, 0, 8, 0);
    return { fd, compression: compressionOf(head, path) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
