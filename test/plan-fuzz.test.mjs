// The generated plan reader (build/restore/plan-wire.c) under AddressSanitizer, UBSan and LeakSanitizer, fed
// tens of thousands of damaged plans made from valid ones with a seeded RNG: every truncation, every aligned
// word replaced by absurd values (counts of 2^63, -1 as u64, indices past the end), bit flips, cut and
// duplicated chunks. Every input must be read or refused with one line; no sanitizer report, no crash.
// Needs gcc with libasan/libubsan, no root. Without a working sanitizer it skips locally, fails under CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePlan } from '../packages/engine/dist/restore/plan.js';
import { rng } from './lib/rng.mjs';
import { buildHarness, root, samples } from './lib/plans.mjs';

const SAN_ENV = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=99', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' };

/** the sanitized harness, or why there is none: a sanitizer must be shown to work here (it reports a
 *  deliberate overread) before its silence means anything */
function sanitizedHarness() {
  const canary = join(root, 'test/.tmp/plan-asan-canary');
  try {
    mkdirSync(join(root, 'test/.tmp'), { recursive: true });
    writeFileSync(`${canary}.c`, '#include <stdlib.h>\nint main(void) { volatile char *p = malloc(8); return p[8]; }\n');
    execFileSync('gcc', ['-O0', '-fsanitize=address', '-o', canary, `${canary}.c`], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return { why: `gcc cannot build with -fsanitize=address: ${String(e.stderr ?? e.message).split('\n')[0]}` };
  }
  const c = spawnSync(canary, [], { env: SAN_ENV, encoding: 'utf8' });
  if (c.status === 0 || !/AddressSanitizer: heap-buffer-overflow/.test(c.stderr)) {
    return { why: `AddressSanitizer does not work here (a deliberate overread exited ${c.status}: ${c.stderr.split('\n').find(Boolean) ?? 'no report'})` };
  }
  try {
    return { exe: buildHarness(true) };
  } catch (e) {
    return { why: `cannot build the plan harness with sanitizers: ${String(e.stderr ?? e.message).split('\n')[0]}` };
  }
}

/** damaged copies of plan b: [bytes, must it be refused] */
function* mutations(b, random) {
  const int = (n) => Math.floor(random() * n);
  yield [b, false];
  for (let len = 0; len < b.length; len++) yield [b.subarray(0, len), true];
  const values = [0n, 1n, 2n, 0x7fn, 0xffffffffn, 1n << 32n, 1n << 62n, 1n << 63n, (1n << 63n) - 1n, -1n, -2n, BigInt(b.length), BigInt(b.length >> 3)];
  for (let off = 0; off + 8 <= b.length; off += 8) {
    for (const v of [...values, BigInt(int(2 ** 31)) * BigInt(int(2 ** 31))]) {
      const c = Buffer.from(b);
      c.writeBigUInt64LE(BigInt.asUintN(64, v), off);
      yield [c, false];
    }
  }
  for (let k = 0; k < 3000; k++) {
    const c = Buffer.from(b);
    for (let n = 1 + int(3); n > 0; n--) c[int(c.length)] ^= 1 << int(8);
    yield [c, false];
  }
  for (let k = 0; k < 2000; k++) {
    const at = int(b.length), len = 1 + int(64);
    switch (k % 4) {
      case 0: yield [Buffer.concat([b.subarray(0, at), b.subarray(at + len)]), false]; break; // a chunk cut out
      case 1: yield [Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]), false]; break; // duplicated
      case 2: yield [Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: len }, () => int(256))), b.subarray(at)]), false]; break; // random bytes in
      default: { // a few aligned words replaced by random ones
        const c = Buffer.from(b);
        for (let n = 2 + int(3); n > 0; n--) c.writeBigUInt64LE(BigInt(int(2 ** 32)) << BigInt(int(33)), 8 * int(c.length >> 3));
        yield [c, false];
      }
    }
  }
}

test('plan reader fuzz: damaged plans are read or refused with one line, no sanitizer report', async (t) => {
  const h = sanitizedHarness();
  if (!h.exe) {
    if (process.env.CI) throw new Error(`${h.why} (required under CI)`);
    t.skip(h.why);
    return;
  }
  const random = rng(0x5eed);
  const child = spawn(h.exe, ['--batch'], { env: SAN_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  const out = [], err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  const closed = once(child, 'close');
  const mustRefuse = [];
  for (const make of Object.values(samples)) {
    for (const [bytes, refuse] of mutations(encodePlan(make()), random)) {
      const hdr = Buffer.alloc(4);
      hdr.writeUInt32LE(bytes.length);
      mustRefuse.push(refuse);
      if (!child.stdin.write(Buffer.concat([hdr, bytes]))) await once(child.stdin, 'drain');
    }
  }
  child.stdin.end();
  const [status, signal] = await closed;
  const stderr = Buffer.concat(err).toString();
  assert.equal(stderr, '', 'a sanitizer report or a harness error');
  assert.deepEqual([status, signal], [0, null]);
  const lines = Buffer.concat(out).toString().split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, mustRefuse.length, 'one line per plan');
  const kinds = new Map();
  lines.forEach((l, i) => {
    if (l === 'ok') { assert.ok(!mustRefuse[i], `plan ${i} (a truncated plan) was read`); return; }
    assert.match(l, /^restore plan: \S.*\S$/, `plan ${i}`);
    const kind = l.replace(/^restore plan: (\S+: )?/, '').replace(/0x[0-9a-f]+/g, 'X').replace(/\d+/g, 'N').replace(/\(N \w+\)/, '(N table)');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  });
  const summary = [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`);
  t.diagnostic(`${lines.length} plans, ${lines.filter((l) => l === 'ok').length} read; refusals: ${summary.join('; ')}`);
  // the damage reached every check, not just the first ones
  for (const want of ['truncated at byte', 'out of range (N table)', 'is more than the N bytes left can hold', 'unknown kind', 'is not before this element',
    'not a restore plan', 'this helper reads version', 'string contains a NUL byte', 'nonzero padding', 'bytes after its end', 'not N']) {
    assert.ok([...kinds.keys()].some((k) => k.includes(want)), `no refusal "${want}" among ${summary.join('; ')}`);
  }
});
