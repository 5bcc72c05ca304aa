// A container checkpoint archive, read in place: one pass over it lists its
// members (and, for a compressed archive, keeps the small ones that the
// explorers read: every image but the page data, and the engine's metadata
// files). Members of a plain .tar are read where they lie; the page data of a
// compressed one by decompressing forward to it again, so memory stays bounded
// whatever the archive's size. Nothing is written to disk.
import { closeSync } from 'node:fs';
import { ImageError, type FileReader } from '@ckpt/images';
import { InflatedBytes, openArchiveFile, PlainBytes, preadFully, type Compression } from './stream.js';
import { scanTar, type TarMember } from './tar.js';

/** where CRIU's images are in every engine's layout */
export const CHECKPOINT_DIR = 'checkpoint';
/** a kept member is at most this big (bigger ones are read again when needed) */
const KEEP_ONE = 64 << 20;
/** and all kept members together at most this */
const KEEP_ALL = 512 << 20;
/** an image is read whole to be decoded: beyond this it is refused */
const MAX_WHOLE = 1 << 30;

export interface Member extends TarMember {
  /** the data, for members kept in memory */
  data?: Buffer;
}

/** Whether a compressed archive's member is kept at the first pass. */
function worthKeeping(m: TarMember): boolean {
  if (m.type !== 'file' || m.size > KEEP_ONE) return false;
  const slash = m.name.lastIndexOf('/');
  const dir = m.name.slice(0, Math.max(0, slash));
  const base = m.name.slice(slash + 1);
  if (dir === CHECKPOINT_DIR) return !/^(amdgpu-)?pages-\d+\.img$/.test(base);
  return dir === '' && !base.endsWith('.tar') && !base.endsWith('.log');
}

export class CheckpointArchive {
  readonly members = new Map<string, Member>();
  readonly compression: Compression;
  private fd: number;
  /** the decompressing cursor for members not kept (compressed archives) */
  private cursor: InflatedBytes | undefined;

  constructor(readonly path: string) {
    const { fd, compression } = openArchiveFile(path);
    this.fd = fd;
    this.compression = compression;
    try {
      this.scan();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private scan(): void {
    let kept = 0;
    const keep = this.compression !== 'none';
    const stream = this.compression === 'none' ? new PlainBytes(this.fd) : new InflatedBytes(this.fd, this.compression, this.path, true);
    scanTar(stream, this.path, (m, bytes) => {
      const member: Member = { ...m };
      if (keep && worthKeeping(m) && kept + m.size <= KEEP_ALL) {
        member.data = bytes.read(m.size);
        if (member.data.length < m.size) throw new ImageError(`truncated archive (${m.name} is cut short)`, { file: this.path });
        kept += m.size;
      }
      // a later member of the same name replaces an earlier one, as tar extracts it
      this.members.set(m.name, member);
    });
    if (stream instanceof InflatedBytes) stream.finish();
  }

  /** the label of a member in messages: the archive's path, then the member's */
  where(name: string): string {
    return `${this.path}/${name}`;
  }

  file(name: string): Member | undefined {
    const m = this.members.get(name);
    return m?.type === 'file' ? m : undefined;
  }

  /** bytes of a member at offset into out; fewer than len only at its end */
  readAt(m: Member, offset: number, out: Buffer, at: number, len: number): number {
    const n = Math.max(0, Math.min(len, m.size - offset));
    if (m.data) {
      m.data.copy(out, at, offset, offset + n);
      return n;
    }
    if (this.compression === 'none') return preadFully(this.fd, out, at, n, m.offset + offset);
    const want = m.offset + offset;
    // forward only: going back means decompressing again from the start
    if (!this.cursor || this.cursor.pos > want) this.cursor = new InflatedBytes(this.fd, this.compression, this.path);
    if (this.cursor.skip(want - this.cursor.pos) < want - this.cursor.pos) return 0;
    return this.cursor.readInto(out, at, n);
  }

  /** a whole member */
  bytes(m: Member): Buffer {
    if (m.data) return m.data;
    if (m.size > MAX_WHOLE) throw new ImageError(`${m.size} bytes: too large to read whole`, { file: this.where(m.name) });
    const out = Buffer.allocUnsafe(m.size);
    const got = this.readAt(m, 0, out, 0, m.size);
    if (got < m.size) throw new ImageError('truncated archive (member cut short)', { file: this.where(m.name) });
    return out;
  }

  reader(m: Member): FileReader {
    return { readAt: (offset, out, at, len) => this.readAt(m, offset, out, at, len), size: () => m.size, close: () => {} };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
