// The "extra" payloads some image types put after each entry (FORMAT.md §5):
// how long they are, how to read, skip and write them, and their JSON forms.
import { ImageError } from './errors.js';
import { messageFromJson, messageToJson } from './forms.js';
import { b64Lines, fromB64, type Json } from './pyjson.js';
import { messagePlan } from './schema.js';
import type { ByteSource } from './source.js';
import { decodeMessage, encodeMessage, type Message } from './wire.js';

/** Native extra values: bytes, tcp queues, semaphore values or queued SysV messages. */
export type Extra = Buffer | TcpQueues | number[] | IpcMessage[];
export interface TcpQueues { inq: Buffer; outq: Buffer }
export interface IpcMessage { header: Message; data: Buffer }

export interface ExtraCodec {
  /** reads the payload that follows msg */
  read(src: ByteSource, msg: Message): Extra;
  /** skips it; returns the size CRIT's `show --nopl` reports */
  skip(src: ByteSource, msg: Message): number;
  toJson(extra: Extra): Json;
  /** the bytes to write after msg (padding included), from JSON or native form */
  write(extra: unknown, msg: Message, path: string): Buffer;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const num = (v: unknown) => Number(v ?? 0);

function bytesFrom(v: unknown, path: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v !== 'string') throw new ImageError(`expected base64 text, got ${typeof v}`, { path });
  try {
    return fromB64(v);
  } catch (e) {
    throw new ImageError((e as Error).message, { path });
  }
}

function checkLength(data: Buffer, want: number, field: string, path: string): Buffer {
  if (data.length !== want) throw new ImageError(`extra holds ${data.length} bytes but ${field} says ${want}`, { path });
  return data;
}

/** A run of bytes whose length one field (or a sum of fields) gives. */
function sizedBytes(lengthOf: (m: Message) => number, field: string): ExtraCodec {
  return {
    read: (src, m) => Buffer.from(src.take(lengthOf(m), `extra data (${field})`)),
    skip: (src, m) => {
      src.skip(lengthOf(m), `extra data (${field})`);
      return lengthOf(m);
    },
    toJson: (e) => b64Lines(e as Buffer),
    write: (e, m, path) => checkLength(bytesFrom(e ?? '', path), lengthOf(m), field, path),
  };
}

export const pipeData = sizedBytes((m) => num(m.bytes), 'bytes');
export const skQueue = sizedBytes((m) => num(m.length), 'length');
export const bpfmapData = sizedBytes((m) => num(m.keys_bytes) + num(m.values_bytes), 'keys_bytes + values_bytes');

export const tcpStream: ExtraCodec = {
  read: (src, m) => ({
    inq: Buffer.from(src.take(num(m.inq_len), 'receive queue (inq_len)')),
    outq: Buffer.from(src.take(num(m.outq_len), 'send queue (outq_len)')),
  }),
  skip: (src, m) => {
    src.skip(num(m.inq_len) + num(m.outq_len), 'tcp queues (inq_len + outq_len)');
    return num(m.inq_len) + num(m.outq_len);
  },
  toJson: (e) => ({ inq: b64Lines((e as TcpQueues).inq), outq: b64Lines((e as TcpQueues).outq) }),
  write: (e, m, path) => {
    if (e !== undefined && (e === null || typeof e !== 'object' || Buffer.isBuffer(e))) throw new ImageError('expected {"inq": ..., "outq": ...}', { path });
    const q = (e ?? {}) as Record<string, unknown>;
    return Buffer.concat([
      checkLength(bytesFrom(q.inq ?? '', `${path}.inq`), num(m.inq_len), 'inq_len', `${path}.inq`),
      checkLength(bytesFrom(q.outq ?? '', `${path}.outq`), num(m.outq_len), 'outq_len', `${path}.outq`),
    ]);
  },
};

/** SysV semaphore values: nsems x u16, zero-padded to 8 bytes. */
export const ipcSem: ExtraCodec = {
  read: (src, m) => {
    const n = num(m.nsems);
    const raw = src.take(roundUp(2 * n, 8), 'semaphore values (nsems)');
    return Array.from({ length: n }, (_, i) => raw.readUInt16LE(2 * i));
  },
  skip: (src, m) => {
    src.skip(roundUp(2 * num(m.nsems), 8), 'semaphore values (nsems)');
    return 2 * num(m.nsems);
  },
  toJson: (e) => e as number[],
  write: (e, m, path) => {
    const n = num(m.nsems);
    e ??= [];
    if (!Array.isArray(e) || e.length !== n) throw new ImageError(`expected a list of ${n} semaphore values (nsems)`, { path });
    const out = Buffer.alloc(roundUp(2 * n, 8));
    e.forEach((v, i) => {
      if (!Number.isInteger(Number(v)) || Number(v) < 0 || Number(v) > 0xffff) throw new ImageError(`semaphore value must be 0..65535`, { path: `${path}[${i}]` });
      out.writeUInt16LE(Number(v), 2 * i);
    });
    return out;
  },
};

/** SysV message queue: qnum x (u32 size, ipc_msg, msize bytes padded to 8). */
export const ipcMsg: ExtraCodec = {
  read: (src, m) => {
    const out: IpcMessage[] = [];
    for (let i = 0; i < num(m.qnum) && src.offset < src.size; i++) {
      const header = readIpcMsgHeader(src);
      const msize = num(header.msize);
      const data = Buffer.from(src.take(msize, 'message text (msize)'));
      src.skip(roundUp(msize, 8) - msize, 'message padding');
      out.push({ header, data });
    }
    return out;
  },
  skip: (src, m) => {
    let total = 0;
    for (let i = 0; i < num(m.qnum) && src.offset < src.size; i++) {
      const start = src.offset;
      const header = readIpcMsgHeader(src);
      const msize = num(header.msize);
      total += src.offset - start - 4 + msize;
      src.skip(roundUp(msize, 8), 'message text (msize)');
    }
    return total;
  },
  toJson: (e) => (e as IpcMessage[]).flatMap((x) => [messageToJson(messagePlan('ipc_msg'), x.header, false), b64Lines(x.data)]),
  write: (e, m, path) => {
    e ??= [];
    if (!Array.isArray(e)) throw new ImageError('expected a list of messages', { path });
    const items: IpcMessage[] = e.length && typeof e[0] === 'object' && e[0] && 'header' in e[0]
      ? (e as IpcMessage[])
      : pairs(e, path);
    if (items.length !== num(m.qnum)) throw new ImageError(`extra holds ${items.length} messages but qnum says ${num(m.qnum)}`, { path });
    const parts: Buffer[] = [];
    items.forEach(({ header, data }, i) => {
      const h = Buffer.from(encodeMessage(messagePlan('ipc_msg'), header));
      const size = Buffer.alloc(4);
      size.writeUInt32LE(h.length);
      const msize = num(header.msize);
      checkLength(data, msize, 'msize', `${path}[${2 * i + 1}]`);
      parts.push(size, h, data, Buffer.alloc(roundUp(msize, 8) - msize));
    });
    return Buffer.concat(parts);
  },
};

function pairs(list: unknown[], path: string): IpcMessage[] {
  if (list.length % 2) throw new ImageError('expected alternating message headers and base64 data', { path });
  const out: IpcMessage[] = [];
  for (let i = 0; i < list.length; i += 2) {
    out.push({ header: messageFromJson(messagePlan('ipc_msg'), list[i], `${path}[${i}]`), data: bytesFrom(list[i + 1], `${path}[${i + 1}]`) });
  }
  return out;
}

function readIpcMsgHeader(src: ByteSource): Message {
  const size = src.take(4, 'message header size').readUInt32LE(0);
  const at = src.offset;
  try {
    return decodeMessage(messagePlan('ipc_msg'), src.take(size, 'message header (ipc_msg)'));
  } catch (e) {
    throw e instanceof ImageError ? e : new ImageError(`bad ipc_msg: ${(e as Error).message}`, { offset: at });
  }
}

/**
 * SysV shared memory: the segment follows the entry only in old images; since
 * CRIU 3.0 `in_pagemaps` is set and the contents live in pagemap-shmem/pages
 * images, so nothing follows (upstream CRIT ignores this and misreads).
 */
export const ipcShm: ExtraCodec = {
  read: (src, m) => {
    if (m.in_pagemaps === true) return Buffer.alloc(0);
    const size = num(m.size);
    const data = Buffer.from(src.take(size, 'segment data (size)'));
    src.skip(Math.min(roundUp(size, 4) - size, src.size - src.offset), 'segment padding');
    return data;
  },
  skip: (src, m) => {
    if (m.in_pagemaps === true) return 0;
    const size = num(m.size);
    src.skip(size, 'segment data (size)');
    src.skip(Math.min(roundUp(size, 4) - size, src.size - src.offset), 'segment padding');
    return size;
  },
  toJson: (e) => b64Lines(e as Buffer),
  write: (e, m, path) => {
    const data = bytesFrom(e ?? '', path);
    if (m.in_pagemaps === true) {
      if (data.length) throw new ImageError('in_pagemaps is set: the segment lives in pagemap-shmem, extra must be empty', { path });
      return data;
    }
    const size = num(m.size);
    checkLength(data, size, 'size', path);
    return Buffer.concat([data, Buffer.alloc(roundUp(size, 4) - size)]);
  },
};
