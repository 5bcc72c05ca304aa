// The images library's smaller APIs: image file names from the magic table, and
// decoding only selected fields (what crit's explorers use on large dumps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  decodeImage, decodeMessage, encodeMessage, imageFileName, IMAGE_TYPES, messagePlan, typeByFileName,
} from '@ckpt/images';
import { CORPUS, cases, corpusOrSkip, images, isRaw } from './lib/corpus.mjs';
import { rng } from './lib/rng.mjs';

test('imageFileName fills CRIU templates, and typeByFileName reads every name back', () => {
  assert.equal(imageFileName('core', 42), 'core-42.img');
  assert.equal(imageFileName('ghost-file', 31), 'ghost-file-1f.img');
  assert.equal(imageFileName('tcp-stream', 0xabcn), 'tcp-stream-abc.img');
  assert.equal(imageFileName('pagemap', 7n), 'pagemap-7.img');
  assert.equal(imageFileName('pagemap-shmem', 7), 'pagemap-shmem-7.img');
  assert.equal(imageFileName('files'), 'files.img');
  assert.equal(imageFileName('binfmt-misc'), 'binfmt-misc.img');
  assert.equal(imageFileName('binfmt-misc', 3), 'binfmt-misc-3.img');
  assert.equal(imageFileName('stats', 'dump'), 'stats-dump');
  assert.throws(() => imageFileName('core'), /no CRIU image is named core\.img/);
  assert.throws(() => imageFileName('files', 1), /no CRIU image is named files-ID\.img/);
  assert.throws(() => imageFileName('nope', 1), /nope-ID\.img/);
  for (const t of IMAGE_TYPES) {
    for (const tpl of t.files) {
      const stem = tpl.replace(/-?%l?[uxs].*$/, '').replace(/\.img$/, '');
      const name = imageFileName(stem, tpl.includes('%s') ? 'dump' : tpl.includes('%') ? 123 : undefined);
      assert.equal(typeByFileName(name)?.name, t.name, `${tpl} -> ${name}`);
    }
  }
});

/** The selected part of a fully decoded message. */
function pick(msg, select) {
  const out = {};
  for (const [k, v] of Object.entries(msg)) {
    const s = select[k];
    if (!s) continue;
    if (s === true) out[k] = v;
    else out[k] = Array.isArray(v) ? v.map((m) => pick(m, s)) : pick(v, s);
  }
  return out;
}

/** A random selection over a message type's fields, nested up to depth levels. */
function randomSelection(plan, rand, depth = 3) {
  const sel = {};
  for (const f of plan.fields) {
    if (rand() < 0.5) continue;
    sel[f.name] = f.kind === 'message' && depth > 0 && rand() < 0.6 ? randomSelection(messagePlan(f.msgName), rand, depth - 1) : true;
  }
  return sel;
}

test('decodeMessage with a field selection gives exactly the selected part of the full decode', (t) => {
  if (!corpusOrSkip(t)) return;
  const rand = rng(7);
  let checked = 0;
  for (const c of cases()) {
    for (const f of images(c).filter((n) => !isRaw(n))) {
      const type = typeByFileName(f);
      if (!type?.message || type.layout !== 'plain') continue;
      const plan = messagePlan(type.message);
      for (const entry of decodeImage(join(CORPUS, c, f)).entries) {
        const { extra, ...msg } = entry;
        const bytes = encodeMessage(plan, msg);
        for (let i = 0; i < 3; i++) {
          const sel = randomSelection(plan, rand);
          assert.deepEqual(decodeMessage(plan, bytes, 0, bytes.length, sel), pick(msg, sel), `${c}/${f} ${JSON.stringify(sel)}`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 500, `only ${checked} selections checked`);
});

test('a selection still checks the bytes it skips', () => {
  const plan = messagePlan('core_entry');
  const bytes = encodeMessage(plan, { mtype: 'X86_64', tc: { task_state: 1, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0n, comm: 'x' } });
  const select = { mtype: true };
  assert.deepEqual(decodeMessage(plan, bytes, 0, bytes.length, select), { mtype: 'X86_64' });
  // the skipped tc runs past the end: an error, as without a selection
  assert.throws(() => decodeMessage(plan, bytes, 0, bytes.length - 2, select));
});
