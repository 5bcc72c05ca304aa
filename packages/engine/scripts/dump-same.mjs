#!/usr/bin/env node
// Proof that a change to the dump writes the same images: each test program (test/engine/progs) is
// started as the tests start it, its sessions are stopped (SIGSTOP: nothing of them runs between the
// dumps), and it is dumped with -R by two builds of the engine, one right after the other. The dumps are
// compared image by image, decoded, leaving out only what changes with the clock while nothing runs
// (VOLATILE); pages-*.img byte for byte. A refused dump must be refused with the same message.
//
//   cp -r packages/engine/dist packages/engine/base.tmp      # the build before the change (*.tmp: not in git)
//   ... the change; npm run build ...
//   flock /tmp/ckpt-engine-tests.lock node packages/engine/scripts/dump-same.mjs --base packages/engine/base.tmp [CASE...]
//
// Needs root (ptrace). --new DIST compares with another build than packages/engine/dist. The dumps are kept
// under test/.tmp (or CKPT_TEST_KEEP), dump-same-CASE-*/{base,new}.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeImage, PE, taskPages } from '@ckpt/images';
import { compile, launch, sessionPids, sleep, workDir } from '../../../test/engine/helpers.mjs';

let flags, args;
try {
  ({ values: flags, positionals: args } = parseArgs({ options: { base: { type: 'string' }, new: { type: 'string' } }, allowPositionals: true }));
} catch (e) {
  console.error(`${e.message}`);
  process.exit(2);
}
const base = flags.base;
const fresh = flags.new ?? resolve(dirname(fileURLToPath(import.meta.url)), '../dist');
if (!base) {
  console.error('usage: dump-same.mjs --base DIST [--new DIST] [CASE...]');
  process.exit(2);
}
for (const d of [base, fresh]) {
  if (!existsSync(join(d, 'cli.js'))) {
    console.error(`dump-same: no engine build at ${d} (cli.js is missing)`);
    process.exit(2);
  }
}

/** the programs, as the tests start and dump them */
const CASES = [
  { name: 'loop-static', flags: ['-static'] },
  { name: 'loop-dynamic' },
  { name: 'threads' },
  { name: 'tree-pipes' },
  { name: 'unix-sockets', dirArg: true },
  { name: 'files', dirArg: true },
  { name: 'misc-fds', dirArg: true },
  // not proc-state: a second dump of it once stopped fails with either build ("inject: unexpected stop status")
  { name: 'fifo-locks', dirArg: true, dumps: [['--file-locks'], []] },
  { name: 'restore-creds-threads' },
  { name: 'ghost-big', dirArg: true },
  { name: 'restore-ghost-map', dirArg: true },
  { name: 'zombie' },
  { name: 'epoll-moved' },
  { name: 'unsupported-fd' },
  { name: 'ext-unix-sk', server: true, dumps: [['--ext-unix-sk'], []] },
  { name: 'shell-job', pty: true, dumps: [['-j'], []] },
];

/**
 * What may differ between two dumps of a stopped tree: the run id, the dump's own times and clocks,
 * what is left of timers (itimers, POSIX timers, timerfds: their remaining time and ticks), and the
 * atime of a ghost file (the first dump reads it). In pages-*.img only each thread's rseq area's CPU
 * and memory-map CPU ids (the kernel writes them whenever the parasite runs the thread; RSEQ_CPU_IDS).
 */
const VOLATILE = [
  [/^inventory\.img$/, /^entries\.0\.dump_criu_run_id$/],
  [/^stats-dump$/, /^entries\.0\.dump\.\w+_time$/],
  [/^timens-0\.img$/, /^entries\.0\.(monotonic|boottime)\./],
  [/^core-\d+\.img$/, /^entries\.0\.tc\.timers\.(real|virt|prof)\.(vsec|vusec)$/],
  [/^core-\d+\.img$/, /^entries\.0\.tc\.timers\.posix\.\d+\.(vsec|vnsec|overrun)$/],
  [/^files\.img$/, /^entries\.\d+\.tfd\.(vsec|vnsec|ticks)$/],
  [/^ghost-file-\w+\.img$/, /^entries\.0\.atim\./],
];

/** (offset, length) of the rseq fields the kernel rewrites when the thread runs: cpu_id_start, cpu_id; node_id, mm_cid */
const RSEQ_CPU_IDS = [[0, 8], [20, 8]];

/** pages-N.img of dir with the rseq CPU ids of its task's threads zeroed (shmem pages as they are) */
function pagesMasked(dir, name) {
  const raw = Buffer.from(readFileSync(join(dir, name)));
  for (const pm of readdirSync(dir).filter((f) => /^pagemap-\d+\.img$/.test(f))) {
    const pid = Number(/\d+/.exec(pm)[0]);
    const reader = taskPages(dir, pid);
    try {
      if (reader.pagesFile !== join(dir, name)) continue;
      const tids = decodeImage(readFileSync(join(dir, 'pstree.img'))).entries.find((e) => Number(e.pid) === pid)?.threads ?? [pid];
      for (const tid of tids) {
        const rseq = decodeImage(readFileSync(join(dir, `core-${tid}.img`))).entries[0]?.thread_core?.rseq_entry;
        if (!rseq || !BigInt(rseq.rseq_abi_pointer ?? 0)) continue;
        for (const [off, len] of RSEQ_CPU_IDS) {
          const at = BigInt(rseq.rseq_abi_pointer) + BigInt(off);
          const r = reader.runs.find((x) => x.flags & PE.PRESENT && x.vaddr <= at && at + BigInt(len) <= x.vaddr + BigInt(x.nrPages) * 4096n);
          if (r) raw.fill(0, r.fileOffset + Number(at - r.vaddr), r.fileOffset + Number(at - r.vaddr) + len);
        }
      }
      break;
    } finally {
      reader.close();
    }
  }
  return raw;
}

function flatten(v, path, out) {
  if (typeof v === 'bigint') out.set(path, `${v}n`);
  else if (Buffer.isBuffer(v) || v instanceof Uint8Array) out.set(path, `hex:${Buffer.from(v).toString('hex')}`);
  else if (Array.isArray(v)) { out.set(`${path}#`, v.length); v.forEach((x, i) => flatten(x, `${path}.${i}`, out)); }
  else if (v && typeof v === 'object') { out.set(`${path}{}`, Object.keys(v).join(',')); for (const k of Object.keys(v)) flatten(v[k], path ? `${path}.${k}` : k, out); }
  else out.set(path, v);
  return out;
}

/** differences between two dumps, as "image: field: a != b" lines; ignored.n counts the VOLATILE ones left out */
function compareDumps(a, b, ignored) {
  const out = [];
  const names = (d) => readdirSync(d).filter((f) => f.endsWith('.img') || f === 'stats-dump').sort();
  const na = names(a), nb = names(b);
  if (na.join() !== nb.join()) return [`image sets differ: ${na.filter((f) => !nb.includes(f))} / ${nb.filter((f) => !na.includes(f))}`];
  for (const f of na) {
    const ra = readFileSync(join(a, f)), rb = readFileSync(join(b, f));
    if (f.startsWith('pages-')) {
      if (ra.equals(rb)) continue;
      if (pagesMasked(a, f).equals(pagesMasked(b, f))) ignored.n++;
      else out.push(`${f}: bytes differ (beyond the rseq CPU ids)`);
      continue;
    }
    if (ra.equals(rb)) continue;
    const fa = flatten(decodeImage(ra), '', new Map()), fb = flatten(decodeImage(rb), '', new Map());
    const volatile = VOLATILE.filter(([img]) => img.test(f)).map(([, field]) => field);
    for (const k of new Set([...fa.keys(), ...fb.keys()])) {
      if (fa.get(k) === fb.get(k)) continue;
      if (volatile.some((re) => re.test(k))) { ignored.n++; continue; }
      out.push(`${f}: ${k}: ${fa.get(k)} != ${fb.get(k)}`);
    }
  }
  return out;
}

function dumpWith(dist, pid, dir, extra) {
  const url = pathToFileURL(resolve(dist, 'cli.js')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(url)}); await main(process.argv.slice(1));`,
    'dump', '-t', String(pid), '-D', dir, '-R', ...extra], { encoding: 'utf8' });
  // the error lines without their log times
  const error = r.stderr.split('\n').filter((l) => /Error/.test(l)).map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '')).join(' | ');
  return { status: r.status, error: r.status === 0 ? '' : error.replaceAll(dir, 'DIR') || r.stderr.trim() };
}

const state = (p) => { try { const s = readFileSync(`/proc/${p}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3); } catch { return 'gone'; } };

async function stopAll(pids) {
  for (const p of pids) try { process.kill(p, 'SIGSTOP'); } catch {}
  const end = Date.now() + 3000;
  while (pids.some((p) => !['T', 'Z', 'gone'].includes(state(p)))) {
    if (Date.now() > end) throw new Error(`tasks ${pids.filter((p) => state(p) !== 'T')} do not stop`);
    await sleep(20);
  }
  await sleep(1500); // periodic timers of the stopped tasks fire once more: the pending signals settle
}

/** shell-job's program under `setsid script -qfec` (its terminal a pty outside the dumped tree), as shell-job.test.mjs */
async function launchInPty(prog, dir) {
  const log = join(dir, 'out.log');
  closeSync(openSync(log, 'a'));
  const close = 'n=3; while [ $n -lt 256 ]; do eval "exec $n>&-" 2>/dev/null; n=$((n+1)); done; exec "$@"';
  spawn('/bin/bash', ['-c', close, 'bash', 'setsid', 'script', '-qfec', `${prog} ${log}`, join(dir, 'typescript')], {
    cwd: dir, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', TERM: 'xterm' },
  }).unref();
  const end = Date.now() + 5000;
  let m;
  while (!(m = /READY pid=(\d+)/.exec(readFileSync(log, 'utf8')))) {
    if (Date.now() > end) throw new Error('shell-job did not print READY');
    await sleep(20);
  }
  await sleep(300);
  const pid = Number(m[1]);
  const ppid = (p) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  const shell = ppid(pid);
  return { pid, sessions: [shell, ppid(shell)] };
}

const only = new Set(args);
let same = 0, differ = 0;
for (const c of CASES.filter((x) => !only.size || only.has(x.name))) {
  const dir = workDir(`dump-same-${c.name}`);
  const prog = compile(c.name, dir, c.flags ?? []);
  const sessions = [];
  try {
    let pid;
    if (c.server) {
      mkdirSync(join(dir, 'server'));
      sessions.push((await launch(compile(`${c.name}-server`, dir), [join(dir, 'server.sock')], join(dir, 'server'))).pid);
    }
    if (c.pty) {
      const h = await launchInPty(prog, dir);
      pid = h.pid;
      sessions.push(...h.sessions);
    } else {
      pid = (await launch(prog, c.server ? [join(dir, 'server.sock')] : c.dirArg ? [dir] : [])).pid;
    }
    sessions.push(pid);
    await sleep(400);
    await stopAll([...new Set(sessions.flatMap((s) => [s, ...sessionPids(s)]))]);
    for (const [i, extra] of (c.dumps ?? [[]]).entries()) {
      const label = `${c.name}${extra.length ? ' ' + extra.join(' ') : ''}`;
      const [a, b] = [['base', base], ['new', fresh]].map(([side, dist]) => ({ dir: join(dir, `${side}${i}`), ...dumpWith(dist, pid, join(dir, `${side}${i}`), extra) }));
      let diffs;
      const ignored = { n: 0 };
      if (a.status !== b.status || a.error !== b.error) diffs = [`base: exit ${a.status} ${a.error}`, `new:  exit ${b.status} ${b.error}`];
      else diffs = a.status === 0 ? compareDumps(a.dir, b.dir, ignored) : [];
      const what = a.status === 0 ? `${readdirSync(a.dir).filter((f) => f.endsWith('.img')).length} images (${ignored.n} volatile differences left out)`
        : `refused alike: ${a.error.slice(0, 120)}`;
      if (diffs.length) { differ++; console.log(`DIFFERS ${label}\n  ${diffs.slice(0, 20).join('\n  ')}`); }
      else { same++; console.log(`same ${label}: ${what}`); }
    }
  } catch (e) {
    differ++;
    console.log(`FAILED ${c.name}: ${e.message}`);
  } finally {
    for (const s of sessions) for (const p of [s, ...sessionPids(s)]) try { process.kill(p, 'SIGKILL'); } catch {}
  }
}
console.log(`${same} dumps the same, ${differ} different or failed`);
process.exit(differ ? 1 : 0);
