// INTERIM encoder, used only while @ckpt/images does not yet export encodeImage.
// Delete this file once @ckpt/images lands: images-out.ts switches over by itself.
// It covers exactly the image types the dumper writes, with the same input shape as
// @ckpt/images' encodeImage (proto field names, bigint for 64-bit values, enum names, `extra`).
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMON = 0x54564319;
const SERVICE = 0x55105940;
// magic name -> [magic, message type, head message type?, header magic]
const TABLE: Record<string, [number, string, string?, number?]> = {
  INVENTORY: [0x58313116, 'inventory_entry', undefined, 0],
  PSTREE: [0x50273030, 'pstree_entry'],
  CORE: [0x55053847, 'core_entry'],
  IDS: [0x54432030, 'task_kobj_ids_entry'],
  MM: [0x57492820, 'mm_entry'],
  PAGEMAP: [0x56084025, 'pagemap_entry', 'pagemap_head'],
  FDINFO: [0x56213732, 'fdinfo_entry'],
  FILES: [0x56303138, 'file_entry'],
  FS: [0x51403912, 'fs_entry'],
  SECCOMP: [0x64413049, 'seccomp_entry'],
  TIMENS: [0x43114433, 'timens_entry'],
  PIPES_DATA: [0x56453709, 'pipe_data_entry'],
  FIFO_DATA: [0x59333054, 'pipe_data_entry'],
  SK_QUEUES: [0x56264026, 'sk_packet_entry'],
  REMAP_FPATH: [0x59133954, 'remap_file_path_entry'],
  GHOST_FILE: [0x52583605, 'ghost_file_entry'],
  STATS: [0x57093306, 'stats_entry', undefined, SERVICE],
};

let root: any;
function schema(): any {
  if (root) return root;
  const require = createRequire(import.meta.url);
  const protobuf = require('protobufjs');
  const protoDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../proto');
  root = new protobuf.Root();
  root.resolvePath = (_o: string, t: string) =>
    t === 'google/protobuf/descriptor.proto' ? require.resolve('protobufjs/google/protobuf/descriptor.proto') : isAbsolute(t) ? t : join(protoDir, t);
  const files = readdirSync(protoDir).filter((f) => f.endsWith('.proto')).sort();
  root.loadSync(files.map((f) => join(protoDir, f)), { keepCase: true });
  root.resolveAll();
  return root;
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = plain(x);
    return o;
  }
  return v;
}

export function encodeImageInterim(doc: { magic: string; entries: any[] }): Buffer {
  const row = TABLE[doc.magic];
  if (!row) throw new Error(`interim encoder: unsupported image type ${doc.magic}`);
  const [magic, typeName, headName, header = COMMON] = row;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(header ? 8 : 4);
  if (header) {
    h.writeUInt32LE(header, 0);
    h.writeUInt32LE(magic, 4);
  } else h.writeUInt32LE(magic, 0);
  parts.push(h);
  doc.entries.forEach((e, i) => {
    const t = schema().lookupType(i === 0 && headName ? headName : typeName);
    const { extra, ...fields } = e;
    const msg = t.encode(t.fromObject(plain(fields))).finish() as Uint8Array;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(msg.length, 0);
    parts.push(len, Buffer.from(msg));
    if (extra) parts.push(Buffer.isBuffer(extra) ? extra : Buffer.concat([extra.inq, extra.outq]));
  });
  return Buffer.concat(parts);
}
