// Thousands of deterministic mutations of corpus images (truncation, bit flips,
// absurd lengths, wrong magic, inserted and deleted bytes) through decode, show
// (with and without payloads) and info: each must succeed or fail with an
// ImageError (one line, with file/entry/offset), never another exception, never
// hang, never allocate beyond the input's size plus a bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageError, imageInfo, imageJsonChunks } from '@ckpt/images';
import { CORPUS, cases, corpusOrSkip, images, isRaw, ROOT } from './lib/corpus.mjs';
import { pool, run } from './lib/run.mjs';
import { rng } from './lib/rng.mjs';

const MUTATIONS = {
  truncate: (b, r) => b.subarray(0, Math.floor(r() * b.length)),
  flip: (b, r) => {
    const c = Buffer.from(b);
    for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) c[Math.floor(r() * c.length)] ^= 1 << Math.floor(r() * 8);
    return c;
  },
  absurdLength: (b, r) => {
    const c = Buffer.from(b);
    const at = 8 + 4 * Math.floor((r() * (c.length - 12)) / 4);
    c.writeUInt32LE([0xffffffff, 0x7fffffff, 0x80000000, c.length, c.length * 1000][Math.floor(r() * 5)], Math.min(at, c.length - 4));
    return c;
  },
  wrongMagic: (b, r) => {
    const c = Buffer.from(b);
    c.writeUInt32LE(Math.floor(r() * 2 ** 32), r() < 0.5 ? 0 : 4);
    return c;
  },
  insert: (b, r) => {
    const at = Math.floor(r() * b.length);
    return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))), b.subarray(at)]);
  },
  delete: (b, r) => {
    const at = Math.floor(r() * b.length);
    return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 8))]);
  },
};

function corpusImages() {
  const out = [];
  for (const c of cases()) for (const f of images(c)) if (!isRaw(f)) out.push(join(CORPUS, c, f));
  return out;
}

function exercise(data) {
  for (const [form, skipPayload] of [['plain', false], ['pretty', false], ['pretty', true]]) {
    try {
      for (const chunk of imageJsonChunks(data, form, { skipPayload })) assert.equal(typeof chunk, 'string');
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      assert.ok(!e.describe().includes('\n'), 'error is one line');
    }
  }
  try {
    imageInfo(data);
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
  }
}

test('4000 mutated images: decode, show, show --nopl, info fail cleanly or succeed', (t) => {
  if (!corpusOrSkip(t)) return;
  const files = corpusImages().map((p) => [p, readFileSync(p)]);
  const r = rng(2026);
  const names = Object.keys(MUTATIONS);
  let failures = 0;
  for (let i = 0; i < 4000; i++) {
    const [path, orig] = files[Math.floor(r() * files.length)];
    const how = names[i % names.length];
    const data = MUTATIONS[how](orig, r);
    const t0 = performance.now();
    const before = process.memoryUsage();
    try {
      exercise(data);
    } catch (e) {
      failures++;
      assert.fail(`mutation #${i} (${how}) of ${path}: ${e.stack}`);
    }
    const after = process.memoryUsage();
    // generous bound: JSON text of a small image plus slack; an absurd length would show as GBs
    assert.ok(after.arrayBuffers - before.arrayBuffers < data.length * 4 + (32 << 20), `mutation #${i} (${how}) of ${path}: external memory grew`);
    assert.ok(performance.now() - t0 < 5000, `mutation #${i} (${how}) of ${path} took too long`);
  }
  assert.equal(failures, 0);
});

test('the CLI on mutated images: exit 0 or 1, one-line message, bounded memory', async (t) => {
  if (!corpusOrSkip(t)) return;
  const files = corpusImages().map((p) => [p, readFileSync(p)]);
  const r = rng(7);
  const names = Object.keys(MUTATIONS);
  const dir = mkdtempSync(join(tmpdir(), 'crit-fuzz-'));
  try {
    const jobs = [];
    for (let i = 0; i < 120; i++) {
      const [path, orig] = files[Math.floor(r() * files.length)];
      const how = names[i % names.length];
      const f = join(dir, `m${i}.img`);
      writeFileSync(f, MUTATIONS[how](orig, r));
      jobs.push([f, path, how, ['decode', 'show', 'info'][i % 3]]);
    }
    const wrapper = join(ROOT, 'test/lib/crit-maxrss.mjs');
    await pool(jobs, 4, async ([f, path, how, cmd]) => {
      const args = cmd === 'decode' ? ['decode', '-i', f, '--pretty'] : [cmd, f];
      const res = await run(process.execPath, [wrapper, ...args], { timeout: 20000 });
      const label = `crit ${cmd} on ${how} of ${path}`;
      assert.ok(res.code === 0 || res.code === 1, `${label}: exit ${res.code} ${res.signal ?? ''}\n${res.stderr}`);
      const lines = res.stderr.trimEnd().split('\n');
      const rss = Number(lines.pop().replace('maxrss=', ''));
      if (res.code === 1) {
        assert.equal(lines.length, 1, `${label}: expected one line of error, got:\n${lines.join('\n')}`);
        assert.match(lines[0], /^crit: /);
        assert.ok(!/at .*\.js:\d+/.test(lines[0]), `${label}: stack trace`);
      }
      assert.ok(rss < 200 * 1024, `${label}: max RSS ${rss} KiB`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
