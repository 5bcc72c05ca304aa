// crit diff on large synthetic dumps, with figures:
//   1. two 300-task dumps (built from the loop-dynamic corpus images: 300 tasks, each with
//      its own core, mm (33 VMAs), fds and 52 pages (208 KiB); B differs in 3 tasks' pages, 1 fd position, 1 task gone)
//   2. two 512 MiB dumps (the big-mem corpus images, whose pages file the corpus leaves out,
//      get 512 MiB of generated page data; B differs in 1000 scattered pages)
// Usage: node bench/crit-diff.mjs [--runs N] [--keep]
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodeImage, writeImageFile } from '@ckpt/images';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = process.env.CORPUS_DIR ?? resolve(ROOT, '../shared/corpus');
const OUT = join(ROOT, 'bench/out/crit-diff');
const CRIT = join(ROOT, 'packages/crit/bin/crit.js');
const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 5);
const PAGE = 4096;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeCrit(argv) {
  const times = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    last = spawnSync(process.execPath, [CRIT, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (last.status !== 1) throw new Error(`crit ${argv.join(' ')}: exit ${last.status}: ${last.stderr}`);
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), out: last.stdout };
}

// ------------------------------------------------------------ 300 tasks

function build300(dir, variant) {
  mkdirSync(dir, { recursive: true });
  const src = join(CORPUS, 'loop-dynamic');
  const load = (f) => decodeImage(join(src, f));
  const core = load('core-6592.img');
  const mm = load('mm-6592.img');
  const ids = load('ids-6592.img');
  const fs = load('fs-6592.img');
  const pm = load('pagemap-6592.img');
  const files = load('files.img');
  const fdinfo = load('fdinfo-2.img');
  for (const f of ['inventory.img', 'seccomp.img', 'timens-0.img']) copyFileSync(join(src, f), join(dir, f));
  // the first 3 runs of the template's pagemap (52 pages: binary data, heap), and their bytes (the start of its pages file)
  const runs = pm.entries.slice(1, 4);
  const nBytes = runs.reduce((s, r) => s + Number(r.nr_pages) * PAGE, 0);
  const data = readFileSync(join(src, 'pages-1.img')).subarray(0, nBytes);
  const tasks = [];
  for (let i = 0; i < 300; i++) {
    const pid = 1000 + i;
    if (variant === 'B' && i === 299) continue; // gone in B
    tasks.push({ pid, ppid: i ? 1000 : 0, pgid: 1000, sid: 1000, threads: [pid] });
    writeImageFile(join(dir, `core-${pid}.img`), core);
    writeImageFile(join(dir, `mm-${pid}.img`), mm);
    writeImageFile(join(dir, `ids-${pid}.img`), ids);
    writeImageFile(join(dir, `fs-${pid}.img`), fs);
    writeImageFile(join(dir, `pagemap-${pid}.img`), { magic: 'PAGEMAP', entries: [{ pages_id: pid }, ...runs] });
    const mine = Buffer.from(data);
    if (variant === 'B' && i % 100 === 7) mine.writeUInt32LE(0xdeadbeef, PAGE + 64); // one changed page
    const fd = openSync(join(dir, `pages-${pid}.img`), 'w');
    writeSync(fd, mine);
    closeSync(fd);
  }
  writeImageFile(join(dir, 'pstree.img'), { magic: 'PSTREE', entries: tasks });
  const f2 = structuredClone(files);
  if (variant === 'B') {
    const reg = f2.entries.find((e) => e.reg && Number(e.reg.pos) > 0);
    if (reg) reg.reg.pos = BigInt(reg.reg.pos) + 10n;
  }
  writeImageFile(join(dir, 'files.img'), f2);
  writeImageFile(join(dir, 'fdinfo-2.img'), fdinfo);
}

// ------------------------------------------------------------ 512 MiB

function build512(dir, variant) {
  mkdirSync(dir, { recursive: true });
  const src = join(CORPUS, 'big-mem');
  for (const f of ['core-8294.img', 'fdinfo-2.img', 'files.img', 'fs-8294.img', 'ids-8294.img', 'inventory.img', 'mm-8294.img', 'pagemap-8294.img', 'pstree.img', 'seccomp.img', 'timens-0.img']) {
    copyFileSync(join(src, f), join(dir, f));
  }
  const pm = decodeImage(join(src, 'pagemap-8294.img'));
  const pages = pm.entries.slice(1).reduce((s, r) => s + (Number(r.flags ?? 4) & 4 ? Number(r.nr_pages) : 0), 0);
  // page data: a 1 MiB pseudo-random block, varied per MiB; B changes 1000 pages spread over the file
  const block = Buffer.alloc(1 << 20);
  let x = 12345;
  for (let i = 0; i < block.length; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    block.writeUInt32LE(x, i);
  }
  const fd = openSync(join(dir, 'pages-1.img'), 'w');
  const total = pages * PAGE;
  const step = Math.floor(pages / 1000);
  for (let off = 0, n = 0; off < total; off += block.length, n++) {
    const piece = Buffer.from(block.subarray(0, Math.min(block.length, total - off)));
    piece.writeUInt32LE(n, 0);
    if (variant === 'B') {
      for (let p = 0; p < piece.length / PAGE; p++) {
        const page = off / PAGE + p;
        if (page % step === 3 && page / step < 1000) piece.writeUInt32LE(0xfeedface, p * PAGE + 100);
      }
    }
    writeSync(fd, piece);
  }
  closeSync(fd);
  return { pages, bytes: total };
}

/** How fast the two pages files can be read on their own, in 8 MiB pieces (the floor for a diff). */
function readSpeed(files) {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files) {
    const fd = openSync(f, 'r');
    let n;
    while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) bytes += n;
    closeSync(fd);
  }
  return { bytes, secs: Number(process.hrtime.bigint() - t0) / 1e9 };
}

if (!existsSync(CORPUS)) {
  console.error(`corpus not found at ${CORPUS}`);
  process.exit(1);
}
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

console.log(`crit diff benchmark (${RUNS} runs each, median [min-max]; page cache warm)`);
const a300 = join(OUT, 'tasks300-A');
const b300 = join(OUT, 'tasks300-B');
build300(a300, 'A');
build300(b300, 'B');
const r1 = timeCrit(['diff', a300, b300, '--json']);
const d1 = JSON.parse(r1.out);
console.log(`300 tasks:  ${r1.median.toFixed(3)} s [${r1.min.toFixed(3)}-${r1.max.toFixed(3)}]  ${d1.summary.total} changes ${JSON.stringify(d1.summary.bySection)}`);

const a512 = join(OUT, 'mem512-A');
const b512 = join(OUT, 'mem512-B');
const size = build512(a512, 'A');
build512(b512, 'B');
const read = readSpeed([join(a512, 'pages-1.img'), join(b512, 'pages-1.img')]);
const r2 = timeCrit(['diff', a512, b512, '--json', '--only', 'pages']);
const d2 = JSON.parse(r2.out);
const changed = d2.changes.reduce((s, c) => s + c.pages.changed, 0);
const mb = (2 * size.bytes) / (1 << 20);
console.log(`512 MiB:    ${r2.median.toFixed(3)} s [${r2.min.toFixed(3)}-${r2.max.toFixed(3)}]  ${changed} pages changed of ${size.pages}; ` +
  `${(mb / r2.median).toFixed(0)} MiB/s compared (reading both files alone: ${(read.bytes / (1 << 20) / read.secs).toFixed(0)} MiB/s)`);
const r3 = timeCrit(['diff', a512, b512]);
console.log(`512 MiB, all sections, text: ${r3.median.toFixed(3)} s`);
if (!args.includes("--keep")) rmSync(OUT, { recursive: true, force: true });
