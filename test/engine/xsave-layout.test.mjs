// The xsave layouts of other CPUs, without root or such a CPU: a ptrace area laid out as an Intel or AMD CPU
// lays it out (standard or compacted form) gives the same image components by name, and a signal frame built
// for either CPU puts every component at that CPU's offsets. Layouts as CPUID leaf 0xD reports them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

const dist = (m) => import(join(ROOT, 'packages/engine/dist', m));
const { fpregsEntry } = await dist('regs.js');
const { buildSigframe } = await dist('restore/frame.js');
const { componentOffsets } = await dist('xsave.js');

/** [bit, size, standard offset, 64-byte aligned when compacted] */
function layout(xcr0, comps) {
  const components = new Map(comps.map(([bit, size, offset, align64 = false]) => [bit, { bit, size, offset, align64, supervisor: false }]));
  return { xcr0, components };
}
// Skylake-SP: MPX, AVX-512, PKRU
const INTEL = layout(0x2ffn, [[2, 256, 576], [3, 64, 960], [4, 64, 1024], [5, 64, 1088], [6, 512, 1152], [7, 1024, 1664], [9, 8, 2688]]);
// Sapphire Rapids: AVX-512, PKRU, AMX (tile data 64-byte aligned)
const SPR = layout(0x602e7n, [[2, 256, 576], [5, 64, 1088], [6, 512, 1152], [7, 1024, 1664], [9, 8, 2688], [17, 64, 2752], [18, 8192, 2816, true]]);
// Zen 4: AVX-512, PKRU
const AMD = layout(0x2e7n, [[2, 256, 576], [5, 64, 832], [6, 512, 896], [7, 1024, 1408], [9, 8, 2432]]);
const NO_AVX512 = layout(0x7n, [[2, 256, 576]]);

const FIELDS = [[2, 'ymmh_space', 4], [3, 'bndreg_state', 8], [4, 'bndcsr_state', 8], [5, 'opmask_reg', 8], [6, 'zmm_upper', 8], [7, 'hi16_zmm', 8], [9, 'pkru', 4]];
/** a distinct byte for every (component, position) */
const byteOf = (bit, i) => (bit * 37 + i * 11 + 1) & 0xff;

/** A ptrace NT_X86_XSTATE area of `l` with every component of `bv` filled; compacted when `compacted`. */
function area(l, bv, compacted = false) {
  const xcomp = compacted ? (1n << 63n) | l.xcr0 : 0n;
  const at = componentOffsets(l, xcomp);
  const b = Buffer.alloc(Math.max(576, ...[...at].map(([bit, off]) => off + l.components.get(bit).size)));
  b.writeUInt16LE(0x37f, 0);
  b.writeUInt32LE(0x1f80, 24);
  for (let i = 0; i < 256; i++) b[160 + i] = i; // xmm
  b.writeBigUInt64LE(bv, 512);
  b.writeBigUInt64LE(xcomp, 520);
  for (const [bit, off] of at) {
    if (!((bv >> BigInt(bit)) & 1n)) continue;
    for (let i = 0; i < l.components.get(bit).size; i++) b[off + i] = byteOf(bit, i);
  }
  return b;
}

function expectFields(xs, l, bv) {
  for (const [bit, key, word] of FIELDS) {
    if (!((l.xcr0 >> BigInt(bit)) & 1n)) { assert.equal(xs[key], undefined, key); continue; }
    const bytes = Buffer.alloc(l.components.get(bit).size);
    if ((bv >> BigInt(bit)) & 1n) for (let i = 0; i < bytes.length; i++) bytes[i] = byteOf(bit, i);
    const want = word === 4 ? [...Array(bytes.length / 4).keys()].map((i) => bytes.readUInt32LE(i * 4))
      : [...Array(bytes.length / 8).keys()].map((i) => bytes.readBigUInt64LE(i * 8));
    assert.deepEqual(xs[key], want, key);
  }
}

const noFx = () => assert.fail('NT_PRFPREG read although x87/SSE are in the area');

test('xsave: compacted offsets follow the sizes and the 64-byte alignment bits', () => {
  assert.deepEqual([...componentOffsets(INTEL, (1n << 63n) | INTEL.xcr0)], [[2, 576], [3, 832], [4, 896], [5, 960], [6, 1024], [7, 1536], [9, 2560]]);
  assert.deepEqual([...componentOffsets(SPR, (1n << 63n) | SPR.xcr0)], [[2, 576], [5, 832], [6, 896], [7, 1408], [9, 2432], [17, 2440], [18, 2560]]);
  assert.deepEqual(componentOffsets(INTEL, 0n).get(5), 1088, 'standard form: CPUID offsets');
});

test('xsave: a compacted area without a component in its init state gives zeros', () => {
  const b = area(AMD, 0x3n, true);
  b.writeBigUInt64LE((1n << 63n) | 0x3n, 520); // XCOMP_BV: x87 and SSE only
  const fp = fpregsEntry(b, noFx, AMD, 'thread 1');
  assert.deepEqual(fp.xsave.hi16_zmm, new Array(128).fill(0n));
  assert.deepEqual(fp.xsave.ymmh_space, new Array(64).fill(0));
});

for (const [name, l] of [['Intel', INTEL], ['AMD', AMD], ['Sapphire Rapids', SPR]]) {
  for (const compacted of [false, true]) {
    test(`xsave: a ${name} area (${compacted ? 'compacted' : 'standard'} form) dumps every component by name`, () => {
      const bv = l.xcr0 & 0x2ffn;
      const fp = fpregsEntry(area(l, bv, compacted), noFx, l, 'thread 1');
      assert.equal(fp.xsave.xstate_bv, bv);
      assert.equal(fp.xmm_space[1], 0x07060504);
      expectFields(fp.xsave, l, bv);
    });
  }
}

test('xsave: dumped on Intel, the frame built on AMD (and back) has every component at the restoring CPU\'s offsets', () => {
  const bv = 0x2e7n;
  for (const [from, to] of [[INTEL, AMD], [AMD, INTEL], [SPR, AMD], [AMD, SPR]]) {
    const fp = fpregsEntry(area(from, bv), noFx, from, 'thread 1');
    const frame = buildSigframe({}, fp, 0n, undefined, 'task 1', to);
    const f = 448;
    assert.equal(frame.readBigUInt64LE(232), 448n, 'fpstate offset for the helper');
    const size = frame.readUInt32LE(f + 480);
    assert.equal(size, to.components.get(9).offset + 8, 'xstate_size: to the end of the last component written (PKRU)');
    assert.equal(frame.readUInt32LE(f + 468), size + 4);
    assert.equal(frame.readBigUInt64LE(f + 472), 0x2e7n, 'xfeatures');
    assert.equal(frame.readUInt32LE(f + size), 0x46505845, 'FP_XSTATE_MAGIC2 after the area');
    assert.equal(frame.readBigUInt64LE(f + 512), bv);
    assert.equal(frame.readBigUInt64LE(f + 520), 0n, 'standard form');
    for (const bit of [2, 5, 6, 7, 9]) {
      const c = to.components.get(bit);
      for (let i = 0; i < c.size; i++) assert.equal(frame[f + c.offset + i], byteOf(bit, i), `component ${bit} byte ${i}`);
    }
  }
});

test('xsave: refusals name the task and the feature', () => {
  const fp = fpregsEntry(area(AMD, 0x2e7n), noFx, AMD, 'thread 1');
  assert.throws(() => buildSigframe({}, fp, 0n, undefined, 'task 7', NO_AVX512),
    { message: "task 7: the image's FPU state uses AVX-512 (xsave component 5 opmask) but this CPU does not have it" });
  // in its init state AVX-512 costs nothing: the frame leaves it out
  const idle = fpregsEntry(area(AMD, 0x7n), noFx, AMD, 'thread 1');
  const frame = buildSigframe({}, idle, 0n, undefined, 'task 7', NO_AVX512);
  assert.equal(frame.readBigUInt64LE(448 + 472), 0x7n);
  // tile data the image format has no field for: the dump refuses rather than lose it
  const b = area(SPR, 0x602e7n);
  assert.throws(() => fpregsEntry(b, noFx, SPR, 'thread 9'),
    { message: 'thread 9: its FPU state uses AMX (xsave component 17 XTILECFG), which the image format cannot hold' });
  assert.throws(() => buildSigframe({}, { ...fp, xsave: { ...fp.xsave, cet: { cet: 1n, ssp: 0x7000n } } }, 0n, undefined, 'task 7', AMD),
    { message: "task 7: the image's FPU state uses a user shadow stack (CET), which ckpt cannot restore" });
  assert.throws(() => buildSigframe({}, { ...fp, xsave: { ...fp.xsave, opmask_reg: [1n] } }, 0n, undefined, 'task 7', AMD),
    { message: "task 7: the image's AVX-512 (xsave component 5 opmask) has 8 bytes, this CPU's 64" });
});
