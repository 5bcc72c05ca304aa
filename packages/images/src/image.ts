// Images as a whole: the header, the streaming entry reader, and encoding.
import { closeSync, constants, fchmodSync, lstatSync, openSync, renameSync, type Stats, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ImageError } from './errors.js';
import type { Extra } from './extras.js';
import { TextOut, textDecoder, type TextDecoder } from './fasttext.js';
import { messageFromJson, messageToJson, messageToText } from './forms.js';
import { IMG_COMMON, IMG_SERVICE, typeByFileName, typeByMagic, typeByName, type ImageType } from './magic.js';
import { b64Lines, fromB64, humanSize, pyDumps, pyString, type Json } from './pyjson.js';
import { messagePlan, type MessagePlan } from './schema.js';
import { BufferSource, FileSource, type ByteSource } from './source.js';
import { decodeMessage, encodeMessage, missingRequired, WireError, type FieldSelection, type Message } from './wire.js';

/** One entry as read from an image. */
export interface Entry {
  index: number;
  /** file offset of the entry's size field */
  offset: number;
  /** protobuf message type of this entry */
  type: string;
  msg: Message;
  /** the payload after the entry, when the image type has one and it was read */
  extra?: Extra;
  /** payload size when it was skipped (show --nopl) */
  extraSize?: number;
  /** required fields absent on the wire (protobuf-c would refuse such an entry) */
  missing?: string[];
}

/** An image in native form: entries are messages (bigint for 64-bit, Buffer for bytes) with `extra` when present. */
export interface ImageDoc {
  magic: string;
  entries: Array<{ [field: string]: unknown }>;
}

export interface ReadOptions {
  /** skip extra payloads instead of reading them (CRIT's --nopl) */
  skipPayload?: boolean;
  /** called for each entry that lacks required fields (decoding goes on, as upstream's does) */
  onMissing?: (e: Entry) => void;
  /** decode only these fields of each entry (the others are skipped, and not checked for presence) */
  fields?: FieldSelection;
}

/** Opens a path (or takes bytes) as a byte source. */
export function openSource(input: string | Buffer): ByteSource {
  if (typeof input !== 'string') return new BufferSource(input);
  try {
    return new FileSource(input);
  } catch (e) {
    if (e instanceof ImageError) throw e.at({ file: input });
    const err = e as NodeJS.ErrnoException;
    throw new ImageError(err.code === 'ENOENT' ? 'no such file' : err.message, { file: input });
  }
}

const hex32 = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');
const swap32 = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** Reads the magic(s) at the start of an image and returns its type. fileName helps name raw images. */
export function readHeader(src: ByteSource, fileName?: string): ImageType {
  if (src.size === 0) throw new ImageError('empty file: not a CRIU image', { offset: 0 });
  if (src.size < 4) throw new ImageError(`file too short (${src.size} bytes) for a magic`, { offset: 0 });
  let magic = src.take(4, 'magic').readUInt32LE(0);
  if (magic === IMG_COMMON || magic === IMG_SERVICE) magic = src.take(4, 'type magic after the head magic').readUInt32LE(0);
  const t = typeByMagic(magic);
  if (!t) {
    const raw = fileName ? typeByFileName(basename(fileName)) : undefined;
    if (raw && raw.state === 'R') {
      throw new ImageError(`raw image (${raw.name}: ${raw.about}): it has no magic and no entries, there is nothing to decode`);
    }
    if (typeByMagic(swap32(magic))) {
      throw new ImageError(`magic ${hex32(magic)} is ${typeByMagic(swap32(magic))!.name} byte-swapped: a big-endian (s390x) image, not supported`, { offset: src.offset - 4 });
    }
    throw new ImageError(`unknown magic ${hex32(magic)}: not a CRIU protobuf image (raw data such as pages-*.img?)`, { offset: src.offset - 4 });
  }
  if (!t.message) throw new ImageError(`magic ${t.name} (${t.about}) is not an image type that can be decoded`, { offset: src.offset - 4 });
  return t;
}

function planFor(t: ImageType, index: number): MessagePlan {
  if (t.layout === 'pagemap' && index === 0) return messagePlan('pagemap_head');
  if (t.layout === 'ghost' && index > 0) return messagePlan('ghost_chunk_entry');
  return messagePlan(t.message!);
}

/** Decodes one entry's payload (general path), noting required fields it lacks. */
function decodeEntry(plan: MessagePlan, payload: Uint8Array, index: number, offset: number, opts: ReadOptions): Entry {
  let msg: Message;
  try {
    msg = decodeMessage(plan, payload, 0, payload.length, opts.fields);
  } catch (e) {
    if (e instanceof WireError) throw new ImageError(`cannot decode ${plan.name}: ${e.message}`, { offset });
    throw e;
  }
  const entry: Entry = { index, offset, type: plan.name, msg };
  const missing = opts.fields ? [] : missingRequired(plan, msg);
  if (missing.length) {
    entry.missing = missing;
    opts.onMissing?.(entry);
  }
  return entry;
}

/** The size that frames each entry (little-endian u32), read without creating a view. */
function entrySize(src: ByteSource): number {
  const { window: w, at } = src.takeIn(4, 'entry size');
  return (w[at] | (w[at + 1] << 8) | (w[at + 2] << 16) | (w[at + 3] << 24)) >>> 0;
}

/** What an entry of that size is called in the error if it does not fit: built only then. */
const entryWhat = (src: ByteSource, size: number) => (size > src.size - src.offset ? `entry of ${size} bytes` : 'entry');

/**
 * Iterates over the entries of an image, reading only as much as each entry
 * needs. Every length is checked against what remains before it is read.
 */
export function* readEntries(src: ByteSource, t: ImageType, opts: ReadOptions = {}): Generator<Entry> {
  for (let index = 0; src.offset < src.size; index++) yield readEntry(src, t, index, opts);
}

/** Reads the entry at src's offset, and the payload that follows it if its type has one. */
function readEntry(src: ByteSource, t: ImageType, index: number, opts: ReadOptions): Entry {
  const offset = src.offset;
  try {
    const size = entrySize(src);
    const plan = planFor(t, index);
    const payload = src.take(size, entryWhat(src, size));
    const entry = decodeEntry(plan, payload, index, offset, opts);
    const msg = entry.msg;
    if (t.layout === 'ghost') {
      // a ghost file: chunked -> each chunk entry carries `len` bytes; else all that follows is the data
      const dataLen = index === 0 ? (msg.chunks === true ? 0 : src.size - src.offset) : Number(msg.len ?? 0);
      if (index > 0 || msg.chunks !== true) {
        if (opts.skipPayload) {
          src.skip(dataLen, 'ghost file data');
          entry.extraSize = dataLen;
        } else entry.extra = Buffer.from(src.take(dataLen, `ghost file data (${index ? 'len' : 'rest of file'})`));
      }
    } else if (t.extra) {
      if (opts.skipPayload) entry.extraSize = t.extra.skip(src, msg);
      else entry.extra = t.extra.read(src, msg);
    }
    return entry;
  } catch (e) {
    if (e instanceof ImageError) throw e.at({ entry: index, offset });
    throw e;
  }
}

/** A chunk of JSON text is handed out once this many bytes are buffered. */
const CHUNK_BYTES = 1 << 16;
/** The most made room for ahead of one entry's text (it can still grow past it). */
const MAX_RESERVE = 1 << 26;

/**
 * Writes the entries of an image (level 2 of the pretty form, with the
 * separators before them) into out; yields out's text in pieces of chunkBytes
 * whenever it holds that much. Returns the number of entries.
 */
function* entryTexts(src: ByteSource, t: ImageType, form: JsonForm, opts: ReadOptions, out: TextOut, chunkBytes: number): Generator<string, number> {
  const pretty = form === 'pretty';
  const first = Buffer.from(pretty ? '\n        ' : '');
  const sep = Buffer.from(pretty ? ',\n        ' : ', ');
  let index = 0;
  if (t.extra || t.layout === 'ghost') {
    for (const e of readEntries(src, t, opts)) {
      out.bytes(index++ ? sep : first);
      out.text(entryToText(t, e, form, 2));
      if (out.o >= chunkBytes) yield* out.pieces(chunkBytes);
    }
    return index;
  }
  // the first entry's type and the others' (they differ in a pagemap), with their compiled decoders
  const plans = [planFor(t, 0), planFor(t, 1)];
  const decoders = plans.map((plan) => textDecoder(plan, pretty, 2, false));
  // the entries from `index` on, until out holds a chunk; a plain function, not
  // a generator, so that the JIT compiles this loop early
  const fill = (index: number): number => {
    for (; src.offset < src.size && out.o < chunkBytes; index++) {
      const offset = src.offset;
      const k = index === 0 ? 0 : 1;
      try {
        const size = entrySize(src);
        const { window, at } = src.takeIn(size, entryWhat(src, size));
        out.bytes(index ? sep : first);
        // room for the usual text of an entry that size, made before the decoder runs:
        // compiled code that meets its first grow half-way through a large entry is thrown away
        out.reserve(Math.min(16 * size, MAX_RESERVE));
        const dec = decoders[k];
        if (!dec || !out.run(dec, window, at, at + size)) {
          out.text(entryToText(t, decodeEntry(plans[k], window.subarray(at, at + size), index, offset, opts), form, 2));
        }
      } catch (e) {
        if (e instanceof ImageError) throw e.at({ entry: index, offset });
        throw e;
      }
    }
    return index;
  };
  while (src.offset < src.size) {
    index = fill(index);
    if (out.o >= chunkBytes) yield* out.pieces(chunkBytes);
  }
  return index;
}

/** Reads a whole image (path or bytes) into native form. */
export function decodeImage(input: string | Buffer, opts: ReadOptions = {}): ImageDoc {
  const file = typeof input === 'string' ? input : undefined;
  const src = openSource(input);
  try {
    const t = readHeader(src, file);
    const entries: ImageDoc['entries'] = [];
    for (let index = 0; src.offset < src.size; index++) {
      const e = readEntry(src, t, index, opts);
      entries.push(e.extra !== undefined ? { ...e.msg, extra: e.extra } : e.msg);
    }
    return { magic: t.name, entries };
  } catch (e) {
    if (e instanceof ImageError && file) e.at({ file });
    throw e;
  } finally {
    src.close();
  }
}

export const readImageFile = (path: string, opts?: ReadOptions) => decodeImage(path, opts);

export type JsonForm = 'plain' | 'pretty';

/** One entry in CRIT's JSON form (plain: decode; pretty: decode --pretty / show). */
export function entryToJson(t: ImageType, e: Entry, form: JsonForm): { [k: string]: Json } {
  const out = messageToJson(messagePlan(e.type), e.msg, form === 'pretty');
  const extra = extraJson(t, e);
  if (extra !== undefined) out.extra = extra;
  return out;
}

function extraJson(t: ImageType, e: Entry): Json | undefined {
  if (e.extraSize !== undefined) return t.layout === 'ghost' ? undefined : `... <${humanSize(e.extraSize)}>`;
  if (e.extra === undefined) return undefined;
  return t.layout === 'ghost' ? b64Lines(e.extra as Buffer) : t.extra!.toJson(e.extra);
}

/** entryToJson as JSON text, at nesting level `level` of the pretty form. */
export function entryToText(t: ImageType, e: Entry, form: JsonForm, level = 0): string {
  const pretty = form === 'pretty';
  const extra = extraJson(t, e);
  const tail: Array<[string, string]> = extra === undefined ? [] : [['extra', pretty ? pyDumps(extra, 4, level + 1) : pyDumps(extra)]];
  return messageToText(messagePlan(e.type), e.msg, pretty, level, false, tail);
}

/**
 * An image as CRIT's JSON text, in chunks (the same bytes as upstream's
 * `crit decode [--pretty]`, without the final newline) of 64 KiB (the last
 * one less), so memory stays bounded whatever the image size.
 */
export function* imageJsonChunks(input: string | Buffer, form: JsonForm, opts: ReadOptions = {}): Generator<string> {
  yield* jsonChunks(input, form, opts, CHUNK_BYTES);
}

function* jsonChunks(input: string | Buffer, form: JsonForm, opts: ReadOptions, chunkBytes: number): Generator<string> {
  const file = typeof input === 'string' ? input : undefined;
  const src = openSource(input);
  try {
    const t = readHeader(src, file);
    const pretty = form === 'pretty';
    const out = new TextOut();
    out.text(pretty ? `{\n    "magic": ${pyString(t.name)},\n    "entries": [` : `{"magic": ${pyString(t.name)}, "entries": [`);
    const n = yield* entryTexts(src, t, form, opts, out, chunkBytes);
    out.text(pretty ? (n ? '\n    ]\n}' : ']\n}') : ']}');
    yield* out.pieces(chunkBytes);
    yield out.take();
  } catch (e) {
    if (e instanceof ImageError && file) e.at({ file });
    throw e;
  } finally {
    src.close();
  }
}

/** The whole JSON text of an image (what imageJsonChunks yields, in one string). */
export function imageToJsonText(input: string | Buffer, form: JsonForm, opts: ReadOptions = {}): string {
  const [text] = jsonChunks(input, form, opts, Infinity);
  return text;
}

/** CRIT's `info`: the image type and how many entries it holds (pagemap: not counting the head). */
export function imageInfo(input: string | Buffer): { magic: string; count: number } {
  const file = typeof input === 'string' ? input : undefined;
  const src = openSource(input);
  try {
    const t = readHeader(src, file);
    let count = 0;
    if (t.extra || t.layout === 'ghost') {
      for (const _ of readEntries(src, t, { skipPayload: true })) count++;
    } else {
      for (let index = 0; src.offset < src.size; index++) {
        const offset = src.offset;
        try {
          src.skip(src.take(4, 'entry size').readUInt32LE(0), 'entry');
        } catch (e) {
          throw e instanceof ImageError ? e.at({ entry: index, offset }) : e;
        }
        count++;
      }
    }
    if (t.layout === 'pagemap') count = Math.max(0, count - 1);
    return { magic: t.name, count };
  } catch (e) {
    if (e instanceof ImageError && file) e.at({ file });
    throw e;
  } finally {
    src.close();
  }
}

// ------------------------------------------------------------ encoding

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

const emptyExtra = (e: unknown) => e === undefined || e === null || e === '' || e === false || (Array.isArray(e) && e.length === 0);

/**
 * Encodes an image from CRIT's JSON (plain or pretty, as parsed by parseImageJson)
 * or from native values. The exact inverse of decoding. Errors name the JSON path.
 */
export function encodeImage(doc: unknown): Buffer {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ImageError('expected an object with "magic" and "entries"', { path: '$' });
  const d = doc as Record<string, unknown>;
  if (typeof d.magic !== 'string') throw new ImageError('missing "magic" (the image type name, e.g. "PSTREE")', { path: 'magic' });
  const t = typeByName(d.magic);
  if (!t) throw new ImageError(`unknown image type ${JSON.stringify(d.magic)}`, { path: 'magic' });
  if (!t.message) throw new ImageError(`${t.name} is not an image type that can be encoded (${t.about})`, { path: 'magic' });
  if (!Array.isArray(d.entries)) throw new ImageError('missing "entries" (a list)', { path: 'entries' });
  const parts: Buffer[] = [];
  if (t.headMagic !== 'none') parts.push(u32(t.headMagic === 'service' ? IMG_SERVICE : IMG_COMMON));
  parts.push(u32(t.magic));
  let first: Message | undefined;
  d.entries.forEach((raw, i) => {
    const path = `entries[${i}]`;
    const plan = planFor(t, i);
    const msg = messageFromJson(plan, raw, path);
    first ??= msg;
    const body = encodeMessage(plan, msg);
    parts.push(u32(body.length), Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    const extra = (raw as Record<string, unknown>).extra;
    if (t.layout === 'ghost') {
      if (i > 0 && first.chunks !== true) throw new ImageError('a ghost file without chunks has exactly one entry', { path });
      if (i > 0 || first.chunks !== true) {
        const data = ghostData(extra, `${path}.extra`);
        if (i > 0 && data.length !== Number(msg.len)) throw new ImageError(`extra holds ${data.length} bytes but len says ${msg.len}`, { path: `${path}.extra` });
        parts.push(data);
      }
    } else if (t.extra) {
      parts.push(t.extra.write(emptyExtra(extra) ? undefined : extra, msg, `${path}.extra`));
    }
  });
  return Buffer.concat(parts);
}

function ghostData(extra: unknown, path: string): Buffer {
  if (Buffer.isBuffer(extra)) return extra;
  if (extra === undefined || extra === '') return Buffer.alloc(0);
  if (typeof extra !== 'string') throw new ImageError('expected base64 text', { path });
  try {
    return fromB64(extra);
  } catch (e) {
    throw new ImageError((e as Error).message, { path });
  }
}

/** Writes an image atomically: to a temporary file in the same directory, then renamed. */
export function writeImageFile(path: string, doc: unknown): void {
  writeFileAtomic(path, encodeImage(doc));
}

/**
 * Writes data (or chunks of it) to `path`. A regular file (or a name that does not exist yet) is replaced
 * atomically: the data goes to a temporary file of a random name created beside it (O_EXCL|O_NOFOLLOW, so
 * nothing already there is followed or reused), which is then renamed over `path`; a failure half-way
 * leaves neither a partial file nor a damaged original, and an existing file keeps its permissions.
 * Anything else (a device, a FIFO, a symlink: its target) is written in place, as upstream CRIT does:
 * renaming over /dev/null would replace the device with a file. Errors name `path`, never the temporary.
 */
export function writeFileAtomic(path: string, data: Buffer | string | Iterable<string | Uint8Array>): void {
  const chunks = typeof data === 'string' || Buffer.isBuffer(data) ? [data] : data;
  const write = (fd: number) => {
    for (const c of chunks) {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      // one write(2) may take less (a full disk): go on until all is written or it fails (ENOSPC)
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
    }
  };
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch {
    /* a new file */
  }
  if (st && !st.isFile()) {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      write(fd);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const mode = st ? st.mode & 0o7777 : 0o644;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    write(fd);
    fchmodSync(fd, mode);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* never made, or already gone */
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.message === 'string') err.message = err.message.split(tmp).join(path);
    if (err.path === tmp) err.path = path;
    throw err;
  }
}
