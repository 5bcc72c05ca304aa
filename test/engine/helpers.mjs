// Shared helpers of the engine suites: compile the small C programs of test/engine/progs into a
// temp dir, start them like the corpus runner did (setsid, stdin /dev/null, stdout/stderr appended
// to out.log, empty environment), run the ckpt CLI, decode images.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CKPT = join(ROOT, 'packages/engine/bin/ckpt.js');
export { CORPUS } from '../lib/corpus.mjs';
const PROGS = join(ROOT, 'test/engine/progs');

/** Whether this process can ptrace others; when it cannot, tests fail under CI and skip elsewhere. */
export function ptraceUsable() {
  if (process.getuid?.() !== 0) return 'not root';
  const r = spawnSync(process.execPath, [CKPT, 'check'], { encoding: 'utf8' });
  return r.status === 0 ? null : `ckpt check failed: ${r.stdout}${r.stderr}`;
}

/** t.skip() locally, assertion failure when CI is set. */
export function needPtrace(t) {
  const why = ptraceUsable();
  if (!why) return true;
  if (process.env.CI) throw new Error(`engine tests need root and ptrace: ${why}`);
  t.skip(why);
  return false;
}

/** A fresh dir for one test, kept: under test/.tmp, or CKPT_TEST_KEEP=DIR to keep a run's dumps apart
 * (packages/engine/scripts/plan-hashes.mjs plans them with two builds of the engine). */
export function workDir(name) {
  const base = process.env.CKPT_TEST_KEEP || join(ROOT, 'test/.tmp');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

/** gcc progs/NAME.c -> DIR/NAME (extra flags e.g. ['-static']). */
export function compile(name, dir, flags = []) {
  const out = join(dir, name + (flags.includes('-static') ? '-static' : ''));
  execFileSync('gcc', ['-O1', '-pthread', '-o', out, join(PROGS, `${name}.c`), ...flags]);
  return out;
}

/**
 * Starts prog like the corpus runner: through sh, in its own session (setsid), stdin /dev/null,
 * stdout/stderr appended to out.log, only fds 0-2, empty environment; it is not our child.
 * Waits for its READY line and returns its pid (read from that line).
 */
export async function launch(prog, args = [], cwd = dirname(prog)) {
  const log = join(cwd, 'out.log');
  closeSync(openSync(log, 'a'));
  const skip = readFileSync(log, 'utf8').length; // only READY lines written by this start count
  const script = 'n=3; while [ $n -lt 256 ]; do eval "exec $n>&-" 2>/dev/null; n=$((n+1)); done; ' +
    'setsid "$@" </dev/null >>out.log 2>&1 &';
  spawnSync('/bin/bash', ['-c', script, 'bash', prog, ...args], {
    cwd, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', TERM: 'xterm' },
  });
  const deadline = Date.now() + 5000;
  let m;
  while (!(m = /READY pid=(\d+)/.exec(readFileSync(log, 'utf8').slice(skip)))) {
    if (Date.now() > deadline) throw new Error(`${prog} did not print READY`);
    await sleep(20);
  }
  await sleep(300);
  return { pid: Number(m[1]), log, lines: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn (assertions on a running program: its log, its /proc) until they hold; after ms, fails with
 * their last error. A program needs its own time to show that it goes on: no fixed sleep is right for
 * every machine.
 */
export async function eventually(fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    await sleep(100);
  }
}

/**
 * A network namespace of the test's own (unshare -n, loopback up), kept by a sleeping process until close(); the
 * tests that need one share this launcher. net: nsenter's argument; run(cmd, args, env): a command in it;
 * ckpt(args, env): the ckpt CLI in it; launch(prog, args, dir): a test program in it as launch() starts one
 * (nsenter execs it: the pid is the program's).
 */
export function netNamespace() {
  const holder = spawn('unshare', ['-n', 'sleep', '100000'], { stdio: 'ignore' });
  const net = `--net=/proc/${holder.pid}/ns/net`;
  const run = (cmd, args = [], env = {}) => {
    const r = spawnSync('nsenter', [net, cmd, ...args], { encoding: 'utf8', timeout: 120000, env: { ...process.env, ...env } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  for (let i = 0; i < 100 && spawnSync('nsenter', [net, 'true']).status !== 0; i++) spawnSync('sleep', ['0.05']);
  const up = run('ip', ['link', 'set', 'lo', 'up']);
  if (up.status !== 0) {
    holder.kill('SIGKILL');
    throw new Error(`loopback up in the test's namespace: ${up.stderr}`);
  }
  return {
    net, run,
    ckpt: (args, env) => run(process.execPath, [CKPT, ...args], env),
    launch: (prog, args = [], dir = undefined) => launch('/usr/bin/nsenter', [net, prog, ...args], dir ?? dirname(prog)),
    close: () => holder.kill('SIGKILL'),
  };
}

/** Runs the ckpt CLI (a separate process, so the tracer is not the parent). */
export function ckpt(args) {
  const r = spawnSync(process.execPath, [CKPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function alive(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/State:\s+Z/.test(st);
  } catch {
    return false;
  }
}

/** PIDs of every process in the session led by pid (the programs are started with setsid). */
export function sessionPids(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[3]) === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Kills the program and every process of its session (all started by this test). */
export function kill(h) {
  for (const p of sessionPids(h.pid)) {
    try { process.kill(p, 'SIGKILL'); } catch {}
  }
}

/** Decodes every image of dir with our images library; returns name -> doc. */
export async function decodeDir(dir) {
  const { decodeImage } = await import('@ckpt/images');
  const out = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.img') && !f.startsWith('stats-')) continue;
    if (f.startsWith('pages-')) continue;
    out[f] = decodeImage(readFileSync(join(dir, f)));
  }
  return out;
}

/** Debian's python crit, when installed: decode each image, return failures. */
export function pythonCritFailures(dir) {
  if (!existsSync('/usr/bin/crit')) return null;
  const bad = [];
  for (const f of readdirSync(dir)) {
    if ((!f.endsWith('.img') && !f.startsWith('stats-')) || f.startsWith('pages-')) continue;
    const r = spawnSync('/usr/bin/crit', ['decode', '-i', join(dir, f)], { encoding: 'utf8' });
    if (r.status !== 0) bad.push(`${f}: ${r.stderr.split('\n').slice(-2).join(' ')}`);
  }
  return bad;
}

/** Image file names with the PIDs/ids replaced by N, sorted, to compare with the corpus. */
export function imageSet(dir) {
  return [...new Set(readdirSync(dir).filter((f) => f.endsWith('.img') || f === 'stats-dump')
    .map((f) => f.replace(/-\d+\.img$/, '-N.img')))].sort();
}
