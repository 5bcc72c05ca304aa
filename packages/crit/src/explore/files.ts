// How `crit x` names a file object (CRIT.md §7.1): REG by path, pipes and unix
// sockets by id, anything else as TYPE.id. Looked up in files.img, then in the
// legacy per-type images of old dumps.
import { qpEncode } from '@ckpt/images';
import type { ImageDir, Obj } from './imagedir.js';

const LEGACY: Record<string, [field: string, stem: string]> = {
  REG: ['reg', 'reg-files'],
  PIPE: ['pipe', 'pipes'],
  UNIXSK: ['usk', 'unixsk'],
};

export class FileNames {
  private byId: Map<number, Obj> | undefined;
  private cache = new Map<string, string>();

  constructor(private dir: ImageDir) {}

  private files(): Map<number, Obj> {
    if (!this.byId) {
      let entries: Obj[] = [];
      try {
        entries = this.dir.maybeEntries('files') ?? [];
      } catch {
        entries = []; // as upstream: an unreadable files.img counts as empty
      }
      this.byId = new Map(entries.map((f) => [Number(f.id), f]));
    }
    return this.byId;
  }

  private lookup(type: string, id: number): Obj | undefined {
    const [field, stem] = LEGACY[type];
    const f = this.files().get(id);
    if (f) return f[field];
    const legacy = this.dir.maybeEntries(stem);
    return legacy?.find((e) => Number(e.id) === id);
  }

  /** The description of file object `id` of kind `type` (an fd_types name). */
  describe(type: string | number, id: number): string {
    const key = `${type}/${id}`;
    let s = this.cache.get(key);
    if (s === undefined) {
      s = this.compute(String(type), id);
      this.cache.set(key, s);
    }
    return s;
  }

  private compute(type: string, id: number): string {
    switch (type) {
      case 'REG': {
        const rf = this.lookup(type, id);
        return rf?.name || 'unknown path';
      }
      case 'PIPE': {
        const p = this.lookup(type, id);
        return p ? `pipe[${p.pipe_id}]` : 'pipe[?]';
      }
      case 'UNIXSK': {
        const u = this.lookup(type, id);
        if (!u) return 'unix[?]';
        const name = u.name && u.name.length ? ' ' + qpEncode(u.name) : '';
        return `unix[${u.ino} (${u.peer ?? 0})${name}]`;
      }
      default:
        return `${type}.${id}`;
    }
  }
}
