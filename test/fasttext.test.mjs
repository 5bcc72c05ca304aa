// The compiled text decoders (the fast path of decode/show) must print exactly
// what the general path (decodeMessage + messageToText) prints, entry by entry,
// on every corpus image, on synthetic messages of every type and on mutants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BufferSource, decodeMessage, messagePlan, messageToText, messageNames, readHeader, encodeMessage, messageFromJson,
  encodeImage, imageJsonChunks, imageToJsonText,
} from '@ckpt/images';
import { TextOut, textDecoder } from '../packages/images/dist/fasttext.js';
import { CORPUS, cases, corpusOrSkip, images, isRaw } from './lib/corpus.mjs';

function frames(buf) {
  const src = new BufferSource(buf);
  const t = readHeader(src);
  const out = [];
  while (src.offset < src.size) {
    const size = src.take(4, 'size').readUInt32LE(0);
    if (size > src.size - src.offset) break;
    out.push(src.take(size, 'entry'));
    if (t.extra || t.layout === 'ghost') break; // extras follow: only the first frame is certain
  }
  return { t, out };
}

/**
 * Runs a compiled decoder into a buffer that has exactly `room` bytes left, so
 * that it must make room at the right moment; undefined when it declines.
 */
function runTight(d, payload, room) {
  const out = new TextOut();
  out.b = Buffer.alloc(room + 1, 0x3f);
  out.o = 1;
  if (!out.run(d, payload, 0, payload.length)) {
    assert.equal(out.o, 1, 'a declined entry left text behind');
    return undefined;
  }
  return out.take().slice(1);
}

/** Checks that the fast path prints what the general path prints (when it accepts); returns how many forms it accepted. */
function compare(planName, payload, label) {
  const plan = messagePlan(planName);
  let slow;
  try {
    slow = { plain: messageToText(plan, decodeMessage(plan, payload), false, 2), pretty: messageToText(plan, decodeMessage(plan, payload), true, 2) };
  } catch {
    slow = undefined;
  }
  let fastCount = 0;
  for (const pretty of [false, true]) {
    const d = textDecoder(plan, pretty, 2, false);
    if (!d) continue;
    const out = new TextOut();
    out.text('<');
    if (!out.run(d, payload, 0, payload.length)) {
      assert.equal(out.take(), '<', `${label}: a declined entry left text behind`);
      continue;
    }
    const fast = out.take().slice(1);
    fastCount++;
    assert.ok(slow, `${label}: the fast path accepted what the general path refuses`);
    assert.equal(fast, pretty ? slow.pretty : slow.plain, `${label} (${pretty ? 'pretty' : 'plain'})`);
  }
  return fastCount;
}

test('fast and general paths agree on every corpus entry', (t) => {
  if (!corpusOrSkip(t)) return;
  let fast = 0;
  for (const c of cases()) {
    for (const f of images(c)) {
      if (isRaw(f)) continue;
      const { t: type, out } = frames(readFileSync(join(CORPUS, c, f)));
      out.forEach((p, i) => {
        const name = type.layout === 'pagemap' && i === 0 ? 'pagemap_head' : type.message;
        fast += compare(name, p, `${c}/${f}#${i}`);
      });
    }
  }
  assert.ok(fast > 1000, `fast path used ${fast} times`);
});

test('fast and general paths agree on mutated entries of every message type', () => {
  let seed = 99;
  const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (const name of messageNames()) {
    const plan = messagePlan(name);
    // a message with every scalar field set, built through the general encoder
    const obj = {};
    for (const f of plan.fields) {
      if (f.kind === 'message') continue;
      const v = f.kind === 'bool' ? true : f.kind === 'string' ? 'sé\u00ff' : f.kind === 'bytes' ? 'AAEC\n' : f.kind === 'enum' ? [...f.enumPlan.byName.keys()][0] : f.wide ? 2n ** 62n + 5n : 77;
      obj[f.name] = f.repeated ? [v, v] : v;
    }
    let payload;
    try {
      payload = Buffer.from(encodeMessage(plan, messageFromJson(plan, obj, '$')));
    } catch {
      continue; // required sub-messages missing: covered by the corpus
    }
    compare(name, payload, name);
    for (let i = 0; i < 20; i++) {
      const m = Buffer.from(payload);
      if (m.length) m[Math.floor(r() * m.length)] ^= 1 << Math.floor(r() * 8);
      compare(name, m, `${name} mutant ${i}`);
    }
  }
});

const encode = (name, obj) => Buffer.from(encodeMessage(messagePlan(name), messageFromJson(messagePlan(name), obj, '$')));

/** A message with its required fields only (sub-messages built the same way), or undefined for a type that contains itself. */
function minimal(name, depth = 0) {
  if (depth > 4) return undefined;
  const obj = {};
  for (const f of messagePlan(name).fields) {
    if (!f.required) continue;
    if (f.kind !== 'message') obj[f.name] = f.kind === 'bool' ? false : f.kind === 'string' || f.kind === 'bytes' ? '' : f.kind === 'enum' ? [...f.enumPlan.byName.keys()][0] : 0;
    else if ((obj[f.name] = minimal(f.msgName, depth + 1)) === undefined) return undefined;
  }
  return obj;
}

const SIGNED = new Set(['int32', 'sint32', 'int64', 'sint64']);
const WIDE = new Set(['int64', 'sint64', 'uint64', 'fixed64']);
// around every place where the printing of a number changes path: one digit,
// int32/uint32 (and the sign bit of a varint's halves), 2^53 (exact doubles), 64 bits
const BOUNDARIES = [
  0n, 1n, 9n, 10n, 99n, 100n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 10n ** 10n,
  2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 10n ** 16n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];
const values = (kind) => {
  const max = WIDE.has(kind) ? (SIGNED.has(kind) ? 2n ** 63n - 1n : 2n ** 64n - 1n) : SIGNED.has(kind) ? 2n ** 31n - 1n : 2n ** 32n - 1n;
  const min = SIGNED.has(kind) ? -max - 1n : 0n;
  return [...BOUNDARIES, ...BOUNDARIES.map((v) => -v)].filter((v, i, all) => v >= min && v <= max && all.indexOf(v) === i);
};

test('integers at every boundary, of every kind and human form (hex, inherited hex, flags, dict, dev, enum numbers)', () => {
  let fast = 0;
  for (const name of messageNames()) {
    const base = minimal(name);
    if (base === undefined) continue;
    const plan = messagePlan(name);
    // every integer field of the message (and, through hex inheritance and nesting, of its required sub-messages) at each value
    for (const f of plan.fields) {
      const kind = f.kind === 'enum' ? 'int32' : f.kind;
      if (!['int32', 'sint32', 'uint32', 'fixed32', 'int64', 'sint64', 'uint64', 'fixed64'].includes(kind)) continue;
      for (const v of values(kind)) {
        const obj = { ...base, [f.name]: f.repeated ? [v, 1n, v] : v };
        fast += compare(name, encode(name, obj), `${name}.${f.name} = ${v}`);
      }
    }
  }
  assert.ok(fast > 5000, `fast path used ${fast} times`);
});

test('sub-messages hold boundary values too: nesting levels and inherited hex', () => {
  // mm_entry (level 2) > vmas (level 4, a list) and the hex-inherited messages of the schema
  let fast = 0;
  for (const v of values('sint64')) {
    const vma = { start: 2n ** 47n, end: v < 0n ? -v : v, pgoff: v < 0n ? -v : v, shmid: 0, prot: 7, flags: 0x22, status: 0x80000201, fd: v };
    const mm = { ...minimal('mm_entry'), mm_saved_auxv: [v < 0n ? -v : v, 0n], vmas: [vma, vma], dumpable: -1 };
    fast += compare('mm_entry', encode('mm_entry', mm), `mm_entry vma fd ${v}`);
  }
  assert.equal(fast, 2 * values('sint64').length);
  for (const name of messageNames()) {
    for (const f of messagePlan(name).fields) {
      if (f.kind !== 'message' || !f.opts.hex) continue;
      const sub = minimal(f.msgName);
      const base = minimal(name);
      if (!sub || !base) continue;
      for (const g of messagePlan(f.msgName).fields) {
        if (g.kind === 'message' || g.kind === 'enum' || !['int32', 'sint32', 'uint32', 'fixed32', 'int64', 'sint64', 'uint64', 'fixed64'].includes(g.kind)) continue;
        for (const v of values(g.kind)) {
          const obj = { ...base, [f.name]: f.repeated ? [{ ...sub, [g.name]: g.repeated ? [v] : v }] : { ...sub, [g.name]: g.repeated ? [v] : v } };
          compare(name, encode(name, obj), `${name}.${f.name}.${g.name} = ${v}`);
        }
      }
    }
  }
});

test('ip address lists: an address for 1 or 4+ words, the numbers for 2 or 3', () => {
  const base = { ...minimal('inet_sk_entry'), family: 10 };
  const words = [0x0100007f, 0x80000000, 0xffffffff, 0x12345678, 0xfe80, 7];
  for (let n = 1; n <= words.length; n++) {
    const payload = encode('inet_sk_entry', { ...base, src_addr: words.slice(0, n), dst_addr: words.slice(6 - n) });
    assert.equal(compare('inet_sk_entry', payload, `${n} words`), 2, `${n} words: fast path not taken`);
  }
});

test('empty messages print {} at every level', () => {
  let fast = 0;
  for (const name of messageNames()) {
    const plan = messagePlan(name);
    if (plan.fields.some((f) => f.required)) continue;
    fast += compare(name, Buffer.alloc(0), `${name} empty`);
    // an empty optional sub-message
    for (const f of plan.fields) {
      if (f.kind === 'message' && !f.repeated && minimal(f.msgName) && Object.keys(minimal(f.msgName)).length === 0) {
        fast += compare(name, encode(name, { [f.name]: {} }), `${name}.${f.name} empty`);
      }
    }
  }
  assert.ok(fast > 50, `fast path used ${fast} times`);
});

/** the bytes of some fields of a message (no check for required ones), to put together out of the usual order */
function field(name, obj) {
  const plan = messagePlan(name);
  const native = (f, v) => (f.kind === 'message' ? messageFromJson(messagePlan(f.msgName), v, '$') : f.wide ? BigInt(v) : v);
  const msg = Object.fromEntries(Object.entries(obj).map(([k, v]) => {
    const f = plan.byName.get(k);
    return [k, f.repeated ? v.map((x) => native(f, x)) : native(f, v)];
  }));
  return Buffer.from(encodeMessage(plan, msg));
}

const declined = (name, payload, label) => assert.equal(compare(name, payload, label), 0, `${label}: the fast path should have declined`);

function encodeVarint(n) {
  const out = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
}

test('fields out of order, seen twice, or a repeated field split by another: the general path prints them', () => {
  const vma = { start: 0x1000, end: 0x2000, pgoff: 0, shmid: 0, prot: 1, flags: 2, status: 1, fd: -1 };
  const parts = Object.entries(vma).map(([k, v]) => field('vma_entry', { [k]: v }));
  assert.equal(compare('vma_entry', Buffer.concat(parts), 'in order'), 2);
  declined('vma_entry', Buffer.concat([parts[1], parts[0], ...parts.slice(2)]), 'end before start');
  declined('vma_entry', Buffer.concat([...parts.slice(0, 7), parts[7], parts[6]]), 'status after fd');
  declined('vma_entry', Buffer.concat([...parts, field('vma_entry', { start: 0x3000 })]), 'start twice');
  const mm = minimal('mm_entry');
  const head = field('mm_entry', mm);
  declined('mm_entry', Buffer.concat([head, field('mm_entry', { mm_saved_auxv: [1, 2] }), field('mm_entry', { dumpable: 1 }), field('mm_entry', { mm_saved_auxv: [3] })]), 'auxv split by dumpable');
  declined('mm_entry', Buffer.concat([head, field('mm_entry', { vmas: [vma] }), field('mm_entry', { mm_saved_auxv: [3] })]), 'auxv after vmas');
  // a required field missing: the general path prints what is there (and crit warns)
  declined('vma_entry', Buffer.concat(parts.slice(1)), 'no start');
});

test('lengths past the end, up to 2^32 - 1, are refused by both paths (read as int32, they must not step back)', () => {
  for (const name of messageNames()) {
    for (const f of messagePlan(name).fields) {
      if (!['string', 'bytes', 'message'].includes(f.kind)) continue;
      const tag = [...field(name, {}), ...encodeVarint((f.id << 3) | 2)];
      for (const len of [5, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 6, 2 ** 32 - 1]) declined(name, Buffer.from([...tag, ...encodeVarint(len), 0x41, 0x42]), `${name}.${f.name} of ${len} bytes`);
    }
  }
});

test('an image whose entries take the general path in the middle prints as the image written in order', () => {
  const entry = (i) => ({ vaddr: 0x7f0000000000n + BigInt(i) * 0x1000n, compat_nr_pages: 0, flags: 4, nr_pages: 1 + i });
  const doc = { magic: 'PAGEMAP', entries: [{ pages_id: 1 }, ...Array.from({ length: 5 }, (_, i) => entry(i))] };
  const inOrder = encodeImage(doc);
  // entry 3 (the third pagemap_entry) rewritten with nr_pages before vaddr
  const e = entry(2);
  const swapped = Buffer.concat([field('pagemap_entry', { nr_pages: e.nr_pages }), field('pagemap_entry', { vaddr: e.vaddr, compat_nr_pages: 0, flags: 4 })]);
  const frames = [];
  const src = new BufferSource(inOrder);
  readHeader(src);
  while (src.offset < src.size) frames.push(src.take(src.take(4, 'size').readUInt32LE(0), 'entry'));
  const image = Buffer.concat([inOrder.subarray(0, 8), ...frames.flatMap((f, i) => {
    const body = i === 3 ? swapped : f;
    const sz = Buffer.alloc(4);
    sz.writeUInt32LE(body.length);
    return [sz, body];
  })]);
  for (const form of ['plain', 'pretty']) assert.equal(imageToJsonText(image, form), imageToJsonText(inOrder, form), form);
});

test('chunks: bounded, the same text as a whole, and two images read in turns do not mix', () => {
  const pagemap = (n, base) => encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }, ...Array.from({ length: n }, (_, i) => ({ vaddr: base + BigInt(i) * 0x3000n, compat_nr_pages: 0, flags: 4, nr_pages: 1 }))] });
  const a = pagemap(20000, 0x7f0000000000n);
  const b = pagemap(15000, 0x400000n);
  for (const form of ['plain', 'pretty']) {
    const ia = imageJsonChunks(a, form);
    const ib = imageJsonChunks(b, form);
    const got = { a: [], b: [] };
    for (let ra = ia.next(), rb = ib.next(); !ra.done || !rb.done; ) {
      if (!ra.done) (got.a.push(ra.value), (ra = ia.next()));
      if (!rb.done) (got.b.push(rb.value), (rb = ib.next()));
    }
    assert.equal(got.a.join(''), imageToJsonText(a, form));
    assert.equal(got.b.join(''), imageToJsonText(b, form));
    assert.ok(got.a.length > 10, `${got.a.length} chunks`);
    for (const c of got.a) assert.ok(typeof c === 'string' && c.length < (1 << 16) + 4096, `chunk of ${c.length}`);
  }
});

test('decoders make room before every write: run with the buffer short by every possible amount', () => {
  let runs = 0;
  const check = (name, payload, label) => {
    for (const pretty of [false, true]) {
      const d = textDecoder(messagePlan(name), pretty, 2, false);
      const whole = d ? runTight(d, payload, 1 << 20) : undefined;
      if (whole === undefined) continue;
      for (let room = 0; room <= whole.length + 1; room++) {
        assert.equal(runTight(d, payload, room), whole, `${label} (${pretty ? 'pretty' : 'plain'}) with ${room} bytes of room`);
        runs++;
      }
    }
  };
  const vma = { start: 2n ** 47n, end: 2n ** 64n - 1n, pgoff: 2n ** 53n + 1n, shmid: 10, prot: 7, flags: 0x122, status: 0xffffffff, fd: -(2n ** 63n), madv: 1, fdflags: 2 ** 31 };
  check('mm_entry', encode('mm_entry', { ...minimal('mm_entry'), mm_saved_auxv: [1, 2n ** 63n], vmas: [vma, vma], dumpable: -1, thp_disabled: true }), 'mm_entry');
  check('inet_sk_entry', encode('inet_sk_entry', { ...minimal('inet_sk_entry'), family: 10, state: 99, src_addr: [1, 2, 3, 4], dst_addr: [1, 2] }), 'inet_sk_entry');
  check('irmap_cache_entry', encode('irmap_cache_entry', { dev: 2 ** 32 - 1, inode: 2n ** 64n - 1n, path: '/a"\\é\n' }), 'irmap_cache_entry');
  // every corpus image's first entry
  if (existsSync(CORPUS)) {
    for (const c of cases()) {
      for (const f of images(c)) {
        if (isRaw(f)) continue;
        const { t: type, out } = frames(readFileSync(join(CORPUS, c, f)));
        if (out.length) check(type.layout === 'pagemap' ? 'pagemap_head' : type.message, out[0], `${c}/${f}`);
      }
    }
  }
  assert.ok(runs > 10000, `${runs} runs`);
});
