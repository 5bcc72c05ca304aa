// In-process time of CRIT's JSON text generation (imageJsonChunks, all chunks
// consumed, nothing written) on the large generated inputs of bench/crit.mjs.
// "cold" is the first run in a fresh process (what a crit command pays: it runs
// once per process), "warm" the best of the following runs.
//   node bench/prof-text.mjs [--runs N]     (run bench/crit.mjs once first: it writes the inputs)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const OUT = join(resolve(dirname(SELF), '..'), 'bench/out/crit');
const args = process.argv.slice(2);

if (args[0] === '--child') {
  const { imageJsonChunks } = await import('@ckpt/images');
  const [, file, form] = args;
  const times = [];
  let bytes = 0;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    bytes = 0;
    for (const c of imageJsonChunks(file, form)) bytes += c.length;
    times.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ cold: times[0], warm: Math.min(...times.slice(1)), bytes }));
} else {
  const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 5);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`text generation in-process: median (and best) of ${runs} fresh processes`);
  console.log(`${'input'.padEnd(20)}${'form'.padEnd(8)}${'cold ms'.padEnd(16)}${'warm ms'.padEnd(16)}MB out`);
  for (const name of ['mm-20k.img', 'pagemap-200k.img']) {
    const file = join(OUT, name);
    if (!existsSync(file)) throw new Error(`${file} is missing: run node bench/crit.mjs --runs 1 first`);
    for (const form of ['plain', 'pretty']) {
      const rs = [];
      for (let i = 0; i < runs; i++) {
        const r = spawnSync(process.execPath, [SELF, '--child', file, form], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
        rs.push(JSON.parse(r.stdout));
      }
      const fig = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)})`;
      const cold = fig(rs.map((r) => r.cold));
      const warm = fig(rs.map((r) => r.warm));
      console.log(`${name.padEnd(20)}${form.padEnd(8)}${cold.padEnd(16)}${warm.padEnd(16)}${(rs[0].bytes / 1e6).toFixed(1)}`);
    }
  }
}
