// The vDSO proxy (src/restore/vdso-proxy.ts): a dump whose vDSO differs from this kernel's keeps its vDSO, each
// entry point patched to jump into this kernel's. CKPT_VDSO_PROXY=always forces it on a matching vDSO, so the
// path runs on any machine; =syscall patches in the syscalls instead. The plan is also checked against
// CRIU 4.2's threads dump (another kernel build) with readelf as the independent reader of both symbol tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { decodeImage, encodeImage, taskPages } from '@ckpt/images';
import { planVdso } from '../../packages/engine/dist/restore/vdso-proxy.js';
import { VdsoError, vdsoSymbols } from '../../packages/engine/dist/vdso.js';
import { CORPUS, ckpt, compile, launch, needPtrace, sessionPids, sleep, workDir } from './helpers.mjs';
import { corpusOrSkip } from '../lib/corpus.mjs';
import { killPids, lines, restoreOk, ticks, waitGone } from './restore-lib.mjs';

/** [vvar] (with [vvar_vclock]) and [vdso] of pid, and the map line at an address */
function layout(pid) {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter(Boolean);
  const range = (l) => l.split(' ')[0].split('-').map((x) => BigInt('0x' + x));
  const vdso = range(maps.find((l) => l.endsWith('[vdso]')));
  return { vdso, at: (a) => maps.find((l) => { const [s, e] = range(l); return s <= a && a < e; }) };
}

function mem(pid, addr, len) {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, addr);
    return b;
  } finally {
    closeSync(fd);
  }
}

function withEnv(env, fn) {
  const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/** Restores img (with env), waits, and checks the program goes on with every vDSO result right. */
async function restoreAndCheck(h, img, env = {}) {
  const n = lines(h.log).length;
  assert.equal(withEnv(env, () => restoreOk(img)), h.pid);
  await sleep(800);
  const before = lines(h.log).slice(0, n), after = lines(h.log).slice(n);
  assert.ok(ticks(after).length >= 3, `ticks after the restore: ${after.join('|') || `none (alive: ${existsSync(`/proc/${h.pid}`)})`}`);
  assert.equal(ticks(after)[0], ticks(before).at(-1) + 1, 'ticks go on');
  assert.ok(after.every((l) => / vdso=ok$/.test(l)), after.join('\n'));
}

async function dumpIt(h, img) {
  const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
  assert.equal(d.status, 0, d.stderr);
  assert.ok(await waitGone([h.pid]));
}

test('vDSO proxy (CKPT_VDSO_PROXY=always): the dumped entry points jump into this kernel\'s vDSO; dumped again, restored in place', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-vdso');
  const h = await launch(compile('vdso-calls', dir));
  try {
    const fn = BigInt(/READY pid=\d+ clock_gettime=(0x[0-9a-f]+) $/m.exec(h.lines().join('\n'))[1]);
    const dumped = layout(h.pid).vdso;
    const off = fn - dumped[0];
    await dumpIt(h, join(dir, 'img1'));
    await restoreAndCheck(h, join(dir, 'img1'), { CKPT_VDSO_PROXY: 'always' });
    const now = layout(h.pid);
    assert.notEqual(now.vdso[0], dumped[0], 'this kernel\'s vDSO is mapped elsewhere');
    assert.match(now.at(dumped[0]), /^\S+ r-xp 00000000 00:00 0\s*$/, 'the dumped vDSO is private memory now');
    assert.match(now.at(dumped[0] - 1n), /^\S+ ---p /, 'the dumped vvar is inaccessible');
    // movabs $target, %rax; jmp *%rax - target: the same function of this kernel's vDSO (same kernel: same offset)
    const code = mem(h.pid, fn, 12);
    assert.equal(code.subarray(0, 2).toString('hex') + code.subarray(10).toString('hex'), '48b8ffe0', code.toString('hex'));
    assert.equal(code.readBigUInt64LE(2), now.vdso[0] + off);
    // our dump of the proxied task: the proxy is plain memory, this kernel's vDSO goes back where it now is
    await dumpIt(h, join(dir, 'img2'));
    await restoreAndCheck(h, join(dir, 'img2'));
    assert.deepEqual(layout(h.pid).vdso, now.vdso);
    assert.deepEqual(mem(h.pid, fn, 12), code);
  } finally {
    killPids(sessionPids(h.pid));
    await waitGone([h.pid]);
  }
});

test('vDSO proxy (CKPT_VDSO_PROXY=syscall): entry points become the syscalls, results right', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-vdso-syscall');
  const h = await launch(compile('vdso-calls', dir));
  try {
    const fn = BigInt(/READY pid=\d+ clock_gettime=(0x[0-9a-f]+) $/m.exec(h.lines().join('\n'))[1]);
    await dumpIt(h, join(dir, 'img'));
    await restoreAndCheck(h, join(dir, 'img'), { CKPT_VDSO_PROXY: 'syscall' });
    assert.equal(mem(h.pid, fn, 8).toString('hex'), 'b8e40000000f05c3', 'mov $228 (clock_gettime), %eax; syscall; ret');
  } finally {
    killPids(sessionPids(h.pid));
    await waitGone([h.pid]);
  }
});

// ---- the plan alone (no root): CRIU 4.2's threads dump, copied so that it can be altered

const PID = 6967, TIDS = [6967, 6972, 6973, 6974, 6975];

function corpusCopy() {
  const dir = workDir('vdso-plan');
  for (const f of readdirSync(join(CORPUS, 'threads')).filter((f) => f.endsWith('.img'))) copyFileSync(join(CORPUS, 'threads', f), join(dir, f));
  return dir;
}

/** planVdso of the copy: the plan task's vDSO part, or the refusal's message */
function plan(dir, env = {}) {
  const mm = decodeImage(join(dir, `mm-${PID}.img`)).entries[0];
  const vvar = mm.vmas.find((v) => v.status & 0x1000), vdso = mm.vmas.find((v) => v.status & 0x8);
  const t = { pid: PID, vdso: { hint: vvar.start, expect: vdso.start, vvarLen: vvar.end - vvar.start, vdsoLen: vdso.end - vdso.start, proxy: 0, why: '', patches: [] } };
  const ips = TIDS.map((tid) => [tid, BigInt(decodeImage(join(dir, `core-${tid}.img`)).entries[0].thread_info.gpregs.ip)]);
  const pages = taskPages(dir, PID);
  try {
    const vmas = withEnv(env, () => planVdso(pages, t, `task ${PID}`, vvar, vdso, ips));
    return { ...t.vdso, vmas, start: vdso.start };
  } catch (e) {
    return { error: e.message };
  } finally {
    pages.close();
  }
}

/** name -> offset of the defined functions, as readelf reads the image */
function readelfSyms(image) {
  const f = join(workDir('vdso-elf'), 'vdso.so');
  writeFileSync(f, image);
  const out = {};
  for (const l of execFileSync('readelf', ['-W', '--dyn-syms', f], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*\d+: ([0-9a-f]+)\s+\d+ FUNC\s+(GLOBAL|WEAK)\s+\S+\s+\d+ ([^@\s]+)/.exec(l);
    if (m) out[m[3]] = Number.parseInt(m[1], 16);
  }
  return out;
}

function ownVdso() {
  const l = readFileSync('/proc/self/maps', 'utf8').split('\n').find((x) => x.endsWith('[vdso]'));
  const [s, e] = l.split(' ')[0].split('-').map((x) => BigInt('0x' + x));
  return mem('self', s, Number(e - s));
}

test('vDSO proxy plan of CRIU 4.2\'s threads dump: each dumped function jumps to its namesake here (as readelf reads both)', (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = corpusCopy();
  const p = plan(dir, { CKPT_VDSO_PROXY: 'always' });
  assert.equal(p.error, undefined);
  assert.equal(p.proxy, 1);
  const mm = decodeImage(join(dir, `mm-${PID}.img`)).entries[0];
  const vdso = mm.vmas.find((v) => v.status & 0x8);
  const dumped = readelfSyms(taskPages(dir, PID).read(vdso.start, Number(vdso.end - vdso.start)).data), here = readelfSyms(ownVdso());
  const want = new Map();
  for (const [name, off] of Object.entries(dumped)) if (!want.has(off) || name.startsWith('__vdso_')) want.set(off, here[name]);
  const got = new Map(p.patches.map((x) => [Number(x.at - p.start), x.rel === 2 && x.code.length === 12 ? Number(x.code.readBigUInt64LE(2)) : x.code.toString('hex')]));
  assert.deepEqual(got, want);
  assert.deepEqual(p.vmas.text, { start: vdso.start, end: vdso.end, pgoff: 0n, prot: 5, flags: 0x22, file: -1, madv: 0n, addWrite: 1 });
  assert.equal(p.vmas.vvar.prot, 0);
  // without the hook: a proxy exactly when some function moved
  const auto = plan(dir);
  assert.equal(auto.proxy, Object.entries(dumped).some(([name, off]) => here[name] !== off) ? 1 : 0, auto.why);
});

test('vDSO proxy refusals: a thread stopped inside the dumped vDSO, a function this kernel lacks, the vDSO pages missing or cut short', (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = corpusCopy();
  const mm = decodeImage(join(dir, `mm-${PID}.img`)).entries[0];
  const vdso = mm.vmas.find((v) => v.status & 0x8);
  // 1. thread 6974 inside __vdso_getcpu's first bytes (what the jump overwrites)
  const corePath = join(dir, 'core-6974.img');
  const core = decodeImage(corePath);
  const getcpu = readelfSyms(taskPages(dir, PID).read(vdso.start, Number(vdso.end - vdso.start)).data).__vdso_getcpu;
  core.entries[0].thread_info.gpregs.ip = vdso.start + BigInt(getcpu + 3);
  writeFileSync(corePath, encodeImage(core));
  assert.match(plan(dir, { CKPT_VDSO_PROXY: 'always' }).error, new RegExp(`^task ${PID} thread 6974: stopped inside the dumped vDSO \\(\\+0x${(getcpu + 3).toString(16)}\\)`));
  // ... at its very entry it runs the jump
  core.entries[0].thread_info.gpregs.ip = vdso.start + BigInt(getcpu);
  writeFileSync(corePath, encodeImage(core));
  assert.equal(plan(dir, { CKPT_VDSO_PROXY: 'always' }).proxy, 1);
  // 2. getrandom renamed in the dumped vDSO's string table: no such function here, no syscall to stand in
  const pm = decodeImage(join(dir, `pagemap-${PID}.img`));
  const run = taskPages(dir, PID).runs.find((r) => r.vaddr === vdso.start);
  const pagesFile = join(dir, `pages-${pm.entries[0].pages_id}.img`);
  const pages = readFileSync(pagesFile);
  const text = pages.subarray(run.fileOffset, run.fileOffset + run.nrPages * 4096);
  for (let i = text.indexOf('getrandom\0'); i >= 0; i = text.indexOf('getrandom\0', i + 1)) text.write('X', i + 8, 'latin1');
  writeFileSync(pagesFile, pages);
  assert.match(plan(dir).error, /^task 6967: the dumped vDSO's __vdso_getrandoX\/getrandoX has no counterpart in this kernel's vDSO$/);
  // 3. no pages for the vDSO
  pm.entries = pm.entries.filter((e, i) => i === 0 || BigInt(e.vaddr) !== vdso.start);
  writeFileSync(join(dir, `pagemap-${PID}.img`), encodeImage(pm));
  assert.match(plan(dir).error, /^task 6967: pagemap-6967\.img lacks 8192 bytes of the vDSO at 0x[0-9a-f]+: cannot compare it with this kernel's$/);
  // 4. the pages image cut short before them (the plan checks the pages image's length first: the same refusal as
  // for any other cut)
  const cut = corpusCopy();
  truncateSync(join(cut, `pages-${pm.entries[0].pages_id}.img`), run.fileOffset);
  assert.match(plan(cut).error, /^task 6967: the vDSO at 0x[0-9a-f]+ in pages-\d+\.img: pages file holds \d+ bytes/);
  // (the files the plan checks before the pages: the program and its run dir, as restore-corpus makes them)
  mkdirSync('/tmp/corpus-src/threads', { recursive: true });
  mkdirSync('/tmp/corpus-run/threads', { recursive: true });
  const prog = '/tmp/corpus-src/threads/prog', log = '/tmp/corpus-run/threads/out.log';
  if (!existsSync(prog) || statSync(prog).size !== statSync(join(CORPUS, 'threads/bin/prog')).size) {
    copyFileSync(join(CORPUS, 'threads/bin/prog'), prog);
    chmodSync(prog, 0o755);
  }
  if (!existsSync(log)) writeFileSync(log, '');
  const r = ckpt(['restore', '-D', cut, '-d']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^\(\s*[\d.]+\) Error: task 6967: pages-\d+\.img is \d+ bytes, pagemap-6967\.img needs \d+ \(truncated pages image\)\n$/);
});

test('CKPT_VDSO_PROXY with an unknown value is refused', (t) => {
  if (!corpusOrSkip(t)) return;
  assert.match(plan(corpusCopy(), { CKPT_VDSO_PROXY: 'yes' }).error, /^CKPT_VDSO_PROXY=yes: expected 'always' or 'syscall'$/);
});

test('vdsoSymbols: this kernel\'s vDSO as readelf reads it, through DT_HASH and through DT_GNU_HASH; corrupt images refused', () => {
  const img = ownVdso();
  const byName = (syms) => Object.fromEntries(syms.map((s) => [s.name, s.offset]));
  const want = readelfSyms(img);
  assert.ok(Object.keys(want).length > 0);
  assert.deepEqual(byName(vdsoSymbols(img)), want);
  // the same image without DT_HASH (its tag renamed to one nobody reads): the count comes from the GNU hash table
  const phoff = Number(img.readBigUInt64LE(32)), phnum = img.readUInt16LE(56), phentsize = img.readUInt16LE(54);
  const dyn = [...Array(phnum).keys()].map((i) => phoff + i * phentsize).find((p) => img.readUInt32LE(p) === 2);
  const noHash = Buffer.from(img);
  let renamed = 0;
  for (let p = Number(img.readBigUInt64LE(dyn + 8)); img.readBigInt64LE(p) !== 0n; p += 16) {
    if (img.readBigInt64LE(p) === 4n) { noHash.writeBigInt64LE(0x6ffffd00n, p); renamed++; }
  }
  if (renamed) assert.deepEqual(byName(vdsoSymbols(noHash)), want);
  assert.throws(() => vdsoSymbols(img.subarray(0, 200)), VdsoError);
  assert.throws(() => vdsoSymbols(Buffer.alloc(4096)), /no ELF header/);
});
