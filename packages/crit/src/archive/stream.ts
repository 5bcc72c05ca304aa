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

/**
 * The decompressors hand over all that one input piece gives at once. gzip
 * expands at most ~1032 times: its pieces are sized from the last one's ratio
 * to give about OUT_PER_PIECE, and never more than GZIP_PIECE. zstd is fed one
 * block at a time (at most 128 KiB of output each, however small the block:
 * a 4-byte RLE block gives 128 KiB), found by walking its frames.
 */
const OUT_PER_PIECE = 4 << 20;
const GZIP_PIECE = 16 << 10;
const MIN_PIECE = 256;

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
  private inBuf = Buffer.alloc(0);
  /** size of the next input piece (see OUT_PER_PIECE) */
  private pieceSize = GZIP_PIECE;
  /** zstd: where the frame walk is (see zstdUnit) */
  private zstd = { inFrame: false, checksum: false };
  private ended = false;
  private inflater: { push(chunk: Uint8Array, final?: boolean): void };
  private readonly inSize: number;
  /** CRC-32 of the output so far, when the whole stream is to be checked (see finish) */
  private crc = 0;

  /** verify: the caller reads the stream to its end and calls finish(), which checks it whole */
  constructor(private fd: number, private kind: 'gzip' | 'zstd', private file: string, private verify = false) {
    this.inSize = fstatSync(fd).size;
    const ondata = (chunk: Uint8Array) => {
      if (chunk.length) this.queue.push(chunk);
      if (this.verify && kind === 'gzip') this.crc = crc32(chunk, this.crc);
    };
    this.inflater = kind === 'gzip' ? new Gunzip(ondata) : new Unzstd(ondata);
  }

  private queued(): number {
    let n = -this.head;
    for (const q of this.queue) n += q.length;
    return n;
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
    const piece = this.kind === 'zstd' ? this.zstdUnit() : this.readIn(this.pieceSize);
    this.inPos += piece.length;
    const last = this.inPos >= this.inSize || piece.length === 0;
    const before = this.queued();
    try {
      this.inflater.push(piece, last);
    } catch (e) {
      throw new ImageError(`bad ${this.kind} data near compressed byte ${this.inPos}: ${(e as Error).message}`, { file: this.file });
    }
    if (this.kind === 'gzip') {
      const ratio = Math.max(1, (this.queued() - before) / Math.max(1, piece.length));
      this.pieceSize = Math.max(MIN_PIECE, Math.min(GZIP_PIECE, Math.floor(OUT_PER_PIECE / ratio)));
    }
    if (last) {
      this.ended = true;
      if (this.kind === 'zstd' && this.zstd.inFrame) throw this.cut('the last frame has no last block');
    }
  }

  /**
   * n input bytes at `at`, in a buffer reused from one feed to the next: a new
   * one each time left V8 hundreds of MB behind in garbage (it collects by
   * heap allocation, and these are outside the heap). Safe because the queue is
   * empty when feed() runs, and both decompressors copy what they keep (fflate
   * its unconsumed input, fzstd its window), but for fzstd's pending input
   * below 18 bytes: small reads get their own buffer.
   */
  private readIn(n: number, at = this.inPos): Buffer {
    const len = Math.max(0, Math.min(n, this.inSize - at));
    if (len < 64) {
      const own = Buffer.alloc(len);
      return own.subarray(0, preadFully(this.fd, own, 0, len, at));
    }
    if (this.inBuf.length < len) this.inBuf = Buffer.allocUnsafeSlow(Math.max(len, 128 << 10));
    return this.inBuf.subarray(0, preadFully(this.fd, this.inBuf, 0, len, at));
  }

  private cut(what: string): ImageError {
    return new ImageError(`truncated zstd data (${what})`, { file: this.file });
  }

  /**
   * The next unit of a zstd file (RFC 8878 §3.1): a block, with the frame
   * header before it when it is a frame's first, and the checksum after it when
   * it is its last; or a skippable frame. Also the check that fzstd lacks: it
   * takes a cut-off stream for a whole one.
   */
  private zstdUnit(): Buffer {
    const z = this.zstd;
    const at = this.inPos;
    let head = 0;
    if (!z.inFrame) {
      if (at >= this.inSize) return Buffer.alloc(0);
      const h = this.readIn(8, at);
      if (h.length < 8) throw this.cut(`a frame header at byte ${at} is cut short`);
      const magic = h.readUInt32LE(0);
      if ((magic & 0xfffffff0) === 0x184d2a50) return this.readIn(8 + h.readUInt32LE(4), at); // skippable
      if (magic !== 0xfd2fb528) throw new ImageError(`not zstd data at byte ${at}`, { file: this.file });
      const fhd = h[4];
      const single = (fhd >> 5) & 1;
      head = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + [single, 2, 4, 8][fhd >> 6];
      z.inFrame = true;
      z.checksum = ((fhd >> 2) & 1) === 1;
    }
    const bh = this.readIn(3, at + head);
    if (bh.length < 3) throw this.cut(`a block header at byte ${at + head} is missing`);
    const h = bh[0] | (bh[1] << 8) | (bh[2] << 16);
    const type = (h >> 1) & 3;
    let len = head + 3 + (type === 1 ? 1 : h >>> 3);
    if (h & 1) {
      z.inFrame = false;
      if (z.checksum) len += 4;
    }
    if (at + len > this.inSize) throw this.cut(`a block runs past the end of the file (${this.inSize} bytes)`);
    return this.readIn(len, at);
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
    // a copy: a view would keep the decompressor's whole output piece alive
    return Buffer.concat(parts, got);
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
