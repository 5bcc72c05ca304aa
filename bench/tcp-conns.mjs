#!/usr/bin/env node
// bench/tcp-conns: a TCP echo server with 1,000 established connections (test/engine/progs/tcp-echo.c; the
// clients a process tree of their own, not dumped), in a network namespace of its own (unshare -n, loopback):
// the wall time of `dump --tcp-established` (the server killed) and of `restore --tcp-established -d`, ckpt
// against CRIU 4.2 in the same run, runs alternating between the two (each restores its own dump). After every
// restore each client's next request must come back byte for byte (not timed), or the bench stops.
// Prints one line per run (engine, dump s, restore s, connections verified after the restore), then the median
// of each and the ratio ckpt/CRIU. The ckpt times include Node's start (dump through the modules, restore
// through bin/ckpt as bench/restore does); CRIU's its own start. Both lock the network with iptables (criu's
// default; NETLOCK=nftables for the other), so the lock is part of both figures.
// Usage: node bench/tcp-conns.mjs [conns=1000] [runs=5] [--lock FILE]
//   root; CRIU=/path/to/criu (default CRIU 4.2's build). --lock FILE: hold flock FILE only around each pair of
//   runs (one of each engine, back to back), not for the whole bench (engine tests take the same lock).
//   Progress and the time outside the measured steps go to stderr.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, launch, sleep, sessionPids } from '../test/engine/helpers.mjs';
import { median } from './bigmem.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CKPT = resolve(here, '../packages/engine/bin/ckpt.js');
const CKPT_BIN = resolve(here, '../packages/engine/bin/ckpt');
const CRIU = process.env.CRIU || '/tmp/criu-ref/criu-4.2/criu/criu';
const NETLOCK = process.env.NETLOCK || 'iptables';
const args = process.argv.slice(2);
const li = args.indexOf('--lock');
const lockFile = li >= 0 ? args.splice(li, 2)[1] : undefined;
const conns = Number(args[0] ?? 1000);
const runs = Number(args[1] ?? 5);
if (!existsSync(CRIU)) {
  console.error(`bench/tcp-conns: no CRIU at ${CRIU} (build CRIU 4.2 with ../shared/criu/build.sh or set CRIU)`);
  process.exit(1);
}
if (!(conns > 0) || !(runs > 0) || (li >= 0 && !lockFile)) {
  console.error('usage: node bench/tcp-conns.mjs [conns=1000] [runs=5] [--lock FILE]');
  process.exit(2);
}

const t0 = Date.now();
const note = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);

const work = mkdtempSync(join(tmpdir(), 'bench-tcp-conns-'));
const prog = join(work, 'tcp-echo');
spawnSync('gcc', ['-O2', '-o', prog, resolve(here, '../test/engine/progs/tcp-echo.c')], { stdio: 'inherit' });
const holder = spawn('unshare', ['-n', 'sleep', '100000'], { stdio: 'ignore' });
const netns = `--net=/proc/${holder.pid}/ns/net`;
for (let i = 0; i < 100 && spawnSync('nsenter', [netns, 'true']).status !== 0; i++) await sleep(50);
spawnSync('nsenter', [netns, 'ip', 'link', 'set', 'lo', 'up']);

/** flock FILE held by a child until release() (flock -o: the lock is not passed on to what the bench starts) */
async function takeLock() {
  if (!lockFile) return () => {};
  const p = spawn('flock', ['-o', lockFile, 'sh', '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((res, rej) => {
    p.stdout.once('data', res);
    p.once('exit', (c) => rej(new Error(`flock ${lockFile} exited ${c}`)));
  });
  return () => p.stdin.end();
}

let server, client;
// a fresh server and clients for every run: a tree CRIU restored is in a time namespace of its own, which ckpt
// does not dump yet
async function start() {
  for (const d of ['server', 'client']) { rmSync(join(work, d), { recursive: true, force: true }); mkdirSync(join(work, d)); }
  server = await launch('/usr/bin/nsenter', [netns, prog, 'server'], join(work, 'server'));
  const port = /^PORT (\d+)/m.exec(server.lines().join('\n'))[1];
  // the client prints READY once all its connections answered round 0
  client = await launch('/usr/bin/nsenter', [netns, prog, 'client', String(conns), port], join(work, 'client'));
}
function stop() {
  for (const h of [server, client]) if (h) for (const p of [h.pid, ...sessionPids(h.pid)]) try { process.kill(p, 'SIGKILL'); } catch {}
}
const netfilterLeft = () => {
  const r = NETLOCK === 'nftables' ? spawnSync('nsenter', [netns, 'nft', 'list', 'tables'], { encoding: 'utf8' })
    : spawnSync('nsenter', [netns, 'iptables', '-w', '-S'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => /DROP|table/.test(l)).length;
};

const timed = (cmd, args) => {
  const t = process.hrtime.bigint();
  const r = spawnSync('nsenter', [netns, cmd, ...args], { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args[0]} failed (status ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return s;
};

async function once(tool, i) {
  try {
    note(`run ${i + 1} ${tool}: starting the server and ${conns} clients (load ${loadavg()[0].toFixed(1)})`);
    await start();
    const round = 1;
    const img = join(work, `img-${tool}-${i}`);
    mkdirSync(img);
    const pids = sessionPids(server.pid);
    // errors only, to stderr (what a failed step prints)
    const opts = ['-D', img, '--tcp-established', '-v1'];
    const lock = ['--network-lock', NETLOCK];
    note(`run ${i + 1} ${tool}: dump`);
    const dump = tool === 'ckpt'
      ? timed(process.execPath, [CKPT, 'dump', '-t', String(server.pid), ...opts, ...lock])
      : timed(CRIU, ['dump', '-t', String(server.pid), ...opts, ...lock]);
    // the restore needs the server's pids: wait until they are reaped, not only dead
    for (let k = 0; k < 3000 && pids.some((p) => existsSync(`/proc/${p}`)); k++) await sleep(10);
    note(`run ${i + 1} ${tool}: restore`);
    const restore = tool === 'ckpt'
      ? timed(CKPT_BIN, ['restore', ...opts, '-d'])
      : timed(CRIU, ['restore', ...opts, '-d']);
    const left = netfilterLeft();
    if (left) throw new Error(`after ${tool}'s restore: ${left} ${NETLOCK} lock rule(s) or table(s) left`);
    note(`run ${i + 1} ${tool}: checking every connection`);
    process.kill(client.pid, 'SIGUSR1');
    let line;
    for (let k = 0; k < 1500 && !(line = client.lines().find((l) => l.startsWith(`ROUND ${round} `))); k++) await sleep(100);
    const m = /^ROUND \d+ OK n=(\d+)$/.exec(line ?? '');
    if (!m || Number(m[1]) !== conns) throw new Error(`after ${tool}'s restore: ${line ?? 'no reply in 150 s'}`);
    rmSync(img, { recursive: true, force: true });
    const r = { tool, dump, restore, verified: Number(m[1]) };
    console.log(`run ${i + 1}  ${tool.padEnd(4)}  dump ${dump.toFixed(3)} s  restore ${restore.toFixed(3)} s  verified ${r.verified}/${conns}`);
    return r;
  } finally {
    stop();
    // gone or a zombie (whoever inherits it reaps it in its own time)
    for (const h of [server, client]) for (let k = 0; h && k < 3000 && alive(h.pid); k++) await sleep(10);
  }
}

try {
  console.log(`TCP echo server with ${conns} established connections (loopback, own netns), --network-lock ${NETLOCK}; ` +
    `${runs} runs each of ckpt and ${CRIU}, alternating; wall seconds`);
  const res = { ckpt: [], criu: [] };
  for (let i = 0; i < runs; i++) {
    const release = await takeLock();
    try {
      for (const tool of i % 2 ? ['criu', 'ckpt'] : ['ckpt', 'criu']) res[tool].push(await once(tool, i));
    } finally {
      release();
    }
  }
  const med = (tool, k) => median(res[tool].map((r) => r[k]));
  console.log(`median of ${runs}:`);
  for (const k of ['dump', 'restore']) {
    const a = med('ckpt', k), b = med('criu', k);
    console.log(`${k.padEnd(8)} ckpt ${a.toFixed(3)} s   criu ${b.toFixed(3)} s   ckpt/criu ${(a / b).toFixed(2)}`);
  }
} catch (e) {
  // a failed step (a dump, a restore, a connection's reply): one line, no figures
  console.error(`tcp-conns: ${e.message}`);
  process.exitCode = 1;
} finally {
  stop();
  holder.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
