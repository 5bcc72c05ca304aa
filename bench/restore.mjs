#!/usr/bin/env node
// bench/restore: restore a process with 512 MiB of touched memory from one ckpt dump, N times.
// Prints the wall time of `ckpt restore -d` (Node start + plan + helper + blob), the helper's own time
// (clone3 to every task back in its code) and MB/s, median of N runs; the first run reads the pages
// image cold if the page cache was dropped, later runs are warm. `criu restore` of the same images
// beside it when a working CRIU is installed.
// Usage: node bench/restore.mjs [MiB=512] [runs=5] [cold]   (cold: drop the page cache before every run; root)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, kill, sleep } from '../test/engine/helpers.mjs';
import { bigmemProgram, median } from './bigmem.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CKPT = resolve(here, '../packages/engine/bin/ckpt.js');
// restores go through bin/ckpt, the startup snapshot when it is built (the dump through the modules)
const CKPT_BIN = resolve(here, '../packages/engine/bin/ckpt');
const mib = Number(process.argv[2] ?? 512);
const runs = Number(process.argv[3] ?? 5);
const cold = process.argv[4] === 'cold';
const { work, prog } = bigmemProgram('restore');

async function gone(pid) {
  for (let i = 0; i < 300 && existsSync(`/proc/${pid}`); i++) await sleep(10);
}

const h = await launch(prog, [String(mib)], work);
const img = join(work, 'img');
const d = spawnSync(process.execPath, [CKPT, 'dump', '-t', String(h.pid), '-D', img, '-v0'], { encoding: 'utf8' });
if (d.status !== 0) throw new Error(`dump failed: ${d.stderr}`);
await gone(h.pid);

async function once(tool) {
  if (cold) {
    spawnSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  }
  const t0 = process.hrtime.bigint();
  const r = tool === 'ckpt'
    ? spawnSync(CKPT_BIN, ['restore', '-D', img, '-d', '-v3'], { encoding: 'utf8' })
    : spawnSync('criu', ['restore', '-D', img, '-d', '-v0'], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${tool} restore failed: ${r.stderr}`);
  const inner = Number(/restored \d+ task\(s\) in ([\d.]+) s/.exec(r.stderr)?.[1] ?? NaN);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${h.pid}/status`, 'utf8'))[1]) * 1024;
  if (rss < mib * 1048576) throw new Error(`restored process has only ${rss} bytes resident`);
  kill(h);
  await gone(h.pid);
  return { wall, inner, mbps: (mib * 1.048576) / wall };
}

async function series(tool) {
  const res = [];
  for (let i = 0; i < runs; i++) res.push(await once(tool));
  return { first: res[0].wall, wall: median(res.map((r) => r.wall)), inner: median(res.map((r) => r.inner)), mbps: median(res.map((r) => r.mbps)) };
}

const fmt = (name, s) => `${name.padEnd(6)} wall ${s.wall.toFixed(3)} s (first ${s.first.toFixed(3)} s)   ` +
  `${Number.isNaN(s.inner) ? '' : `helper ${s.inner.toFixed(3)} s   `}${s.mbps.toFixed(0)} MB/s`;
console.log(`restore of a ${mib} MiB process, median of ${runs} runs (${cold ? 'page cache dropped before every run' : 'page cache warm after the first'})`);
console.log(fmt('ckpt', await series('ckpt')));
const criuOk = spawnSync('criu', ['check'], { encoding: 'utf8' }).status === 0;
if (criuOk) {
  try { console.log(fmt('criu', await series('criu'))); } catch (e) { console.log(`criu   failed: ${e.message.split('\n')[0]}`); }
} else console.log('criu   not usable here (missing or `criu check` fails); CRIU 4.2 reference: 0.25 s warm, 0.38 s cold');
rmSync(work, { recursive: true, force: true });
