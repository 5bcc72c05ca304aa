#!/usr/bin/env node
// bench/tcp-conns: a TCP echo server with 1,000 established connections (test/engine/progs/tcp-echo.c; the
// clients a process tree of their own, not dumped), in a network namespace of its own (unshare -n, loopback):
// the wall time of `dump --tcp-established` (the server killed) and of `restore --tcp-established -d`, ckpt
// against CRIU 4.2 in the same run, runs alternating between the two (each restores its own dump). After every
// restore each client's next request must come back byte for byte (not timed), or the bench stops.
// Prints the median of each and the ratio ckpt/CRIU. The ckpt times include Node's start (dump through the
// modules, restore through bin/ckpt as bench/restore does); CRIU's its own start.
// Usage: node bench/tcp-conns.mjs [conns=1000] [runs=5]   (root; CRIU=/path/to/criu, default CRIU 4.2's build)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, sleep, sessionPids } from '../test/engine/helpers.mjs';
import { median } from './bigmem.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CKPT = resolve(here, '../packages/engine/bin/ckpt.js');
const CKPT_BIN = resolve(here, '../packages/engine/bin/ckpt');
const CRIU = process.env.CRIU || '/tmp/criu-ref/criu-4.2/criu/criu';
const conns = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 5);
if (!existsSync(CRIU)) {
  console.error(`bench/tcp-conns: no CRIU at ${CRIU} (build CRIU 4.2 with ../shared/criu/build.sh or set CRIU)`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'bench-tcp-conns-'));
const prog = join(work, 'tcp-echo');
spawnSync('gcc', ['-O2', '-o', prog, resolve(here, '../test/engine/progs/tcp-echo.c')], { stdio: 'inherit' });
const holder = spawn('unshare', ['-n', 'sleep', '100000'], { stdio: 'ignore' });
const netns = `--net=/proc/${holder.pid}/ns/net`;
for (let i = 0; i < 100 && spawnSync('nsenter', [netns, 'true']).status !== 0; i++) await sleep(50);
spawnSync('nsenter', [netns, 'ip', 'link', 'set', 'lo', 'up']);

let server, client;
// a fresh server and clients for every run: a tree CRIU restored is in a time namespace of its own, which ckpt
// does not dump yet
async function start() {
  for (const d of ['server', 'client']) { rmSync(join(work, d), { recursive: true, force: true }); mkdirSync(join(work, d)); }
  server = await launch('/usr/bin/nsenter', [netns, prog, 'server'], join(work, 'server'));
  const port = /^PORT (\d+)/m.exec(server.lines().join('\n'))[1];
  client = await launch('/usr/bin/nsenter', [netns, prog, 'client', String(conns), port], join(work, 'client'));
}
function stop() {
  for (const h of [server, client]) if (h) for (const p of [h.pid, ...sessionPids(h.pid)]) try { process.kill(p, 'SIGKILL'); } catch {}
}
try {
  const timed = (cmd, args) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('nsenter', [netns, cmd, ...args], { encoding: 'utf8' });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${args[0]} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return s;
  };

  async function once(tool, i) {
    await start();
    const round = 1;
    const img = join(work, `img-${tool}-${i}`);
    mkdirSync(img);
    const pids = sessionPids(server.pid);
    const opts = ['-D', img, '--tcp-established', '-v0'];
    const dump = tool === 'ckpt'
      ? timed(process.execPath, [CKPT, 'dump', '-t', String(server.pid), ...opts])
      : timed(CRIU, ['dump', '-t', String(server.pid), ...opts]);
    for (let k = 0; k < 3000 && pids.some((p) => existsSync(`/proc/${p}`)); k++) await sleep(10);
    const restore = tool === 'ckpt'
      ? timed(CKPT_BIN, ['restore', ...opts, '-d'])
      : timed(CRIU, ['restore', ...opts, '-d']);
    process.kill(client.pid, 'SIGUSR1');
    let line;
    for (let k = 0; k < 1500 && !(line = client.lines().find((l) => l.startsWith(`ROUND ${round} `))); k++) await sleep(100);
    if (line !== `ROUND ${round} OK n=${conns}`) throw new Error(`after ${tool}'s restore: ${line ?? 'no reply in 150 s'}`);
    rmSync(img, { recursive: true, force: true });
    stop();
    for (let k = 0; k < 3000 && [server.pid, client.pid].some((p) => existsSync(`/proc/${p}`)); k++) await sleep(10);
    return { dump, restore };
  }

  const res = { ckpt: [], criu: [] };
  for (let i = 0; i < runs; i++) {
    for (const tool of i % 2 ? ['criu', 'ckpt'] : ['ckpt', 'criu']) res[tool].push(await once(tool, i));
  }
  const med = (tool, k) => median(res[tool].map((r) => r[k]));
  console.log(`TCP server with ${conns} established connections, median of ${runs} runs each, alternating`);
  for (const k of ['dump', 'restore']) {
    const a = med('ckpt', k), b = med('criu', k);
    console.log(`${k.padEnd(8)} ckpt ${a.toFixed(3)} s   criu ${b.toFixed(3)} s   ckpt/criu ${(a / b).toFixed(2)}`);
  }
} finally {
  stop();
  holder.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
