// Register state across dump and restore on this CPU's xsave layout: regs-pattern fills x87, SSE, AVX and
// (where the CPU has it) AVX-512 k0-k7/zmm0-31 with a pattern and checks it every tick. The images hold the
// pattern by component name; the restored program (from a killing dump and from a --leave-running one)
// still has it; an image whose state uses a component this CPU lacks is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, decodeDir, launch, needPtrace, ROOT, sleep, workDir } from './helpers.mjs';
import { CRIT } from '../lib/corpus.mjs';
import { killPids, lines, restoreOk, ticks, waitGone } from './restore-lib.mjs';

/** What regs-pattern must cover here, from the features the kernel enabled (it clears the flags of
 * components XCR0 lacks). */
function expectedLevel() {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))[1].trim().split(/\s+/));
  if (flags.has('avx512f') && flags.has('avx512bw')) return 'avx512';
  return flags.has('avx') ? 'avx' : 'sse';
}

// the program's pattern (see regs-pattern.c)
const zmm = (i, w) => 0xA5C3000000000000n + (BigInt(i) << 32n) + (BigInt(w) << 16n) + BigInt(8 * i + w + 1);
const kreg = (i) => 0x6B6B000000000000n + (BigInt(i + 1) << 32n) + BigInt(0xC0FFEE ^ i);
const u32s = (words) => words.flatMap((v) => [Number(v & 0xffffffffn), Number(v >> 32n)]);
const range = (n) => [...Array(n).keys()];

/** The dumped core of the program holds the pattern, by component name. */
async function checkImage(img, pid, level) {
  const core = (await decodeDir(img))[`core-${pid}.img`].entries[0];
  const fp = core.thread_info.fpregs;
  assert.equal(fp.cwd, 0x0F7F, 'x87 control word');
  assert.equal(fp.mxcsr, 0xFF80, 'MXCSR');
  const st = range(8).flatMap((i) => {
    const mant = (0x8000000000000000n | (0x0123456789ABCDEFn * BigInt(i + 1))) & 0xffffffffffffffffn;
    return [...u32s([mant]), ((i & 1) << 15) | (0x3FF0 + 3 * i), 0];
  });
  assert.deepEqual(fp.st_space.map(Number), st, 'x87 stack');
  assert.deepEqual(fp.xmm_space.map(Number), u32s(range(16).flatMap((i) => [zmm(i, 0), zmm(i, 1)])), 'xmm0-15');
  if (level === 'sse') return;
  const xs = fp.xsave;
  const words = (k) => xs[k].map((v) => BigInt(v));
  assert.deepEqual(xs.ymmh_space.map(Number), u32s(range(16).flatMap((i) => [zmm(i, 2), zmm(i, 3)])), 'ymm0-15 upper halves');
  if (level === 'sse' || level === 'avx') return;
  assert.deepEqual(words('opmask_reg'), range(8).map(kreg), 'k0-k7');
  assert.deepEqual(words('zmm_upper'), range(16).flatMap((i) => range(4).map((w) => zmm(i, 4 + w))), 'zmm0-15 upper 256 bits');
  assert.deepEqual(words('hi16_zmm'), range(16).flatMap((i) => range(8).map((w) => zmm(16 + i, w))), 'zmm16-31');
}

/** The program's lines since `from`: ticks with regs=ok only, at least two, counting on. */
function regsOk(h, from) {
  const fresh = h.lines().slice(from);
  assert.ok(!fresh.some((l) => l.startsWith('MISMATCH')), `registers changed: ${fresh.filter((l) => l.startsWith('MISMATCH')).join('|')}`);
  const t = fresh.filter((l) => l.startsWith('tick'));
  assert.ok(t.length >= 2, `ticks: ${fresh.join('|')}`);
  assert.ok(t.every((l) => / regs=ok$/.test(l)), t.join('|'));
  const n = ticks(t);
  n.forEach((v, i) => i && assert.equal(v, n[i - 1] + 1));
  return n;
}

async function start(name) {
  const dir = workDir(name);
  const h = await launch(compile('regs-pattern', dir));
  const level = expectedLevel();
  const covered = h.lines().find((l) => l.startsWith('covered'));
  assert.equal(covered, `covered x87 sse${level !== 'sse' ? ' avx' : ''}${level === 'avx512' ? ' avx512' : ''}`, 'the widest registers this CPU has');
  return { dir, h, level };
}

test('regs-pattern: x87/SSE/AVX/AVX-512 registers through dump and restore, twice', async (t) => {
  if (!needPtrace(t)) return;
  const { dir, h, level } = await start('regs');
  try {
    for (const round of [1, 2]) {
      const img = join(dir, `img${round}`);
      const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
      assert.equal(d.status, 0, `dump ${round}: ${d.stderr}`);
      assert.ok(await waitGone([h.pid]), 'the dumped program is gone');
      await checkImage(img, h.pid, level);
      const before = lines(h.log);
      assert.equal(restoreOk(img), h.pid);
      await sleep(900);
      assert.ok(alive(h.pid), `alive after restore: ${lines(h.log).slice(before.length).join('|')}`);
      const n = regsOk(h, before.length);
      assert.equal(n[0], ticks(before).at(-1) + 1, 'the counter goes on where it was dumped');
    }
  } finally {
    killPids([h.pid]);
  }
});

test('regs-pattern: a --leave-running dump keeps the registers, and restores with them', async (t) => {
  if (!needPtrace(t)) return;
  const { dir, h, level } = await start('regs-leave-running');
  try {
    const img = join(dir, 'img');
    const atDump = ticks(lines(h.log)).at(-1);
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R']);
    assert.equal(d.status, 0, d.stderr);
    await checkImage(img, h.pid, level);
    const mark = lines(h.log).length;
    await sleep(900);
    assert.ok(alive(h.pid), 'goes on after the dump');
    regsOk(h, mark);
    const last = ticks(lines(h.log)).at(-1);
    killPids([h.pid]);
    assert.ok(await waitGone([h.pid]));
    const before = lines(h.log).length;
    assert.equal(restoreOk(img), h.pid);
    await sleep(900);
    const n = regsOk(h, before);
    assert.ok(n[0] > atDump && n[0] <= last, `restored at the dumped tick (${atDump} < ${n[0]} <= ${last})`);
  } finally {
    killPids([h.pid]);
  }
});

test('restore refuses an image whose FPU state uses an xsave component this CPU lacks', async (t) => {
  if (!needPtrace(t)) return;
  const { cpuLayout, componentName } = await import(join(ROOT, 'packages/engine/dist/xsave.js'));
  // a user component this CPU's XCR0 lacks, AMX first (no CPU has every one: APX took MPX's place)
  const bit = [18, 17, 19, 3, 4, 9, 7, 6, 5, 2].find((b) => !((cpuLayout().xcr0 >> BigInt(b)) & 1n));
  assert.ok(bit !== undefined, `XCR0 0x${cpuLayout().xcr0.toString(16)} has every known component`);
  const { dir, h } = await start('regs-refuse');
  try {
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    assert.ok(await waitGone([h.pid]));
    const core = join(img, `core-${h.pid}.img`);
    const bv = BigInt((await decodeDir(img))[`core-${h.pid}.img`].entries[0].thread_info.fpregs.xsave.xstate_bv);
    const s = spawnSync(CRIT, ['set', core, 'entries[0].thread_info.fpregs.xsave.xstate_bv', String(bv | (1n << BigInt(bit)))], { encoding: 'utf8' });
    assert.equal(s.status, 0, s.stderr);
    const r = ckpt(['restore', '-D', img, '-d']);
    assert.notEqual(r.status, 0, 'refused');
    const msg = `task ${h.pid}: the image's FPU state uses ${componentName(bit)} but this CPU does not have it`;
    const out = r.stderr.trim().split('\n');
    assert.equal(out.length, 1, r.stderr);
    assert.ok(out[0].endsWith(`Error: ${msg}`), r.stderr);
    assert.ok(!alive(h.pid), 'nothing was restored');
  } finally {
    killPids([h.pid]);
  }
});
