// decode -> encode gives back every non-raw corpus image byte for byte, from
// the plain and from the pretty JSON (as upstream's test/crit-recode.py checks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage, imageToJsonText, parseImageJson, readHeader, BufferSource } from '@ckpt/images';
import { CORPUS, CRIT, cases, corpusOrSkip, images, isRaw } from './lib/corpus.mjs';
import { run } from './lib/run.mjs';

test('every corpus image re-encodes byte for byte from plain and pretty JSON', (t) => {
  if (!corpusOrSkip(t)) return;
  let n = 0;
  for (const c of cases()) {
    for (const f of images(c)) {
      if (isRaw(f)) continue;
      const path = join(CORPUS, c, f);
      const original = readFileSync(path);
      for (const form of ['plain', 'pretty']) {
        const again = encodeImage(parseImageJson(imageToJsonText(path, form)));
        assert.ok(again.equals(original), `${c}/${f} (${form}) does not re-encode to the same bytes`);
        n++;
      }
    }
  }
  assert.ok(n > 400, `only ${n} round trips`);
});

test('crit decode | crit encode round trip through the CLI, one image of every type in the corpus', async (t) => {
  if (!corpusOrSkip(t)) return;
  const seen = new Map();
  for (const c of cases()) {
    for (const f of images(c)) {
      if (isRaw(f)) continue;
      const path = join(CORPUS, c, f);
      const type = readHeader(new BufferSource(readFileSync(path))).name;
      if (!seen.has(type)) seen.set(type, path);
    }
  }
  assert.ok(seen.size >= 25, `only ${seen.size} image types in the corpus`);
  for (const [type, path] of seen) {
    for (const flags of [[], ['--pretty']]) {
      const dec = await run(CRIT, ['decode', '-i', path, ...flags]);
      assert.equal(dec.code, 0, dec.stderr);
      const enc = await run(CRIT, ['encode'], { input: dec.stdout });
      assert.equal(enc.code, 0, enc.stderr);
      assert.ok(enc.stdout.equals(readFileSync(path)), `${type} ${path} ${flags}`);
    }
  }
});
