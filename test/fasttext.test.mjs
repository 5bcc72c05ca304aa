// The compiled text decoders (the fast path of decode/show) must print exactly
// what the general path (decodeMessage + messageToText) prints, entry by entry,
// on every corpus image, on synthetic messages of every type and on mutants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource, decodeMessage, messagePlan, messageToText, messageNames, readHeader, encodeMessage, messageFromJson } from '@ckpt/images';
import { runTextDecoder, textDecoder } from '../packages/images/dist/fasttext.js';
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
    const fast = runTextDecoder(d, payload, 0, payload.length);
    if (fast === undefined) continue;
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
