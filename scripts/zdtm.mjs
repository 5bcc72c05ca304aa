#!/usr/bin/env node
// Runs CRIU's own test suite (ZDTM, ../shared/zdtm beside the checkout) against
// our engine: `npm run zdtm -- ARGS` is ../shared/zdtm/run.sh with --criu-bin
// and --crit-bin set to node_modules/.bin/ckpt and crit, ARGS going to
// `zdtm.py run` (a later --criu-bin/--crit-bin in ARGS wins, e.g. CRIU's own).
//
//   npm run zdtm -- -f h -t zdtm/static/env00
//   npm run zdtm -- --list test/zdtm/ckpt-pass.txt -f h -p 2
//        every test of the list; fails unless each one passes (a skip fails too)
//   npm run zdtm -- --socketpair [--criu-bin ENGINE]
//        test/others/socketpairs (`./socketpair && ./socketpair -v`) with ckpt (or ENGINE) as criu
//
// The shared copy of the suite stores upstream's source symlinks as plain
// files holding the link target (test/zdtm/transition/fork2.c contains
// "fork.c"), so its programs do not build from a fresh copy. run.sh copies the
// suite to $ZDTM_WORK (default /tmp/zdtm-work) when that copy is missing or
// older than run.sh/zdtm.py, then builds there; we make that copy first, the
// same way and on the same condition, and turn those files back into the
// symlinks of CRIU's source tarball (../criu/criu-4.2-src.tar.gz beside the
// suite) before run.sh builds.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync,
  rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SUITE = resolve(process.env.ZDTM_DIR ?? join(ROOT, '../shared/zdtm'));
const WORK = resolve(process.env.ZDTM_WORK ?? '/tmp/zdtm-work');
const CKPT = join(ROOT, 'node_modules/.bin/ckpt');
const CRIT = join(ROOT, 'node_modules/.bin/crit');
const REPAIRED = '.symlinks-restored'; // marker in the work copy, newer than its .copied once repaired

class UsageError extends Error {}

/** Every symlink under `dir` (recursively), as [path relative to dir, target]. */
function symlinksUnder(dir, base = dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) out.push([relative(base, p), readlinkSync(p)]);
    else if (e.isDirectory()) symlinksUnder(p, base, out);
  }
  return out;
}

/**
 * Turns back into symlinks the files of `work` that stand for a symlink of
 * `links` ([relative path, target]): a regular file whose whole content is
 * the link's target. Anything else (missing, different content, already a
 * link) is left alone. Returns how many were restored.
 */
export function restoreSymlinks(work, links) {
  let restored = 0;
  for (const [rel, target] of links) {
    const p = join(work, rel);
    let st;
    try { st = lstatSync(p); } catch { continue; }
    if (!st.isFile() || st.size !== Buffer.byteLength(target) || readFileSync(p, 'utf8') !== target) continue;
    // the link is made beside the file and renamed over it: never a moment without either
    const tmp = `${p}.zdtm-link`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    renameSync(tmp, p);
    restored++;
  }
  return restored;
}

/** The symlinks of the tarball's test/ directory, as [path relative to the suite root, target]. */
export function tarballTestLinks(tarball) {
  const tmp = mkdtempSync(join(tmpdir(), 'zdtm-src-'));
  try {
    const r = spawnSync('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1', '--wildcards', '*/test/*'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new UsageError(`cannot read the test/ directory of ${tarball}: ${(r.error?.message ?? r.stderr).trim()}`);
    if (!existsSync(join(tmp, 'test'))) throw new UsageError(`${tarball} has no test/ directory`);
    return symlinksUnder(join(tmp, 'test')).map(([rel, target]) => [join('test', rel), target]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const newer = (a, b) => statSync(a).mtimeMs > statSync(b).mtimeMs;

/**
 * Makes `work` a copy of the suite with its symlinks restored. The copy is
 * (re)made exactly when run.sh would make it, as run.sh makes it, so run.sh
 * then keeps it; an interrupted repair is redone at the next run.
 */
export function prepareWork(suite, work) {
  const copied = join(work, '.copied');
  if (!existsSync(copied) || newer(join(suite, 'test/zdtm.py'), copied) || newer(join(suite, 'run.sh'), copied)) {
    console.log(`zdtm: copying ${suite} to ${work}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    for (const [cmd, ...args] of [['cp', '-a', `${suite}/.`, `${work}/`], ['chmod', '-R', 'u+w', work]]) {
      const r = spawnSync(cmd, args, { stdio: 'inherit' });
      if (r.status !== 0) throw new UsageError(`copying ${suite} to ${work} failed: ${cmd} ${r.error?.message ?? `exit status ${r.status}`}`);
    }
    writeFileSync(copied, '');
  }
  const marker = join(work, REPAIRED);
  if (existsSync(marker) && !newer(copied, marker)) return;
  const tarball = resolve(suite, '../criu/criu-4.2-src.tar.gz');
  if (!existsSync(tarball)) throw new UsageError(`CRIU's source tarball not found at ${tarball} (it holds the suite's symlinks)`);
  const n = restoreSymlinks(work, tarballTestLinks(tarball));
  if (n) console.log(`zdtm: restored ${n} symlinks of ${tarball} in ${work}`);
  writeFileSync(marker, '');
}

/** Test lines of a zdtm TAP report: name -> 'ok' | 'fail' | 'skip: REASON'. */
export function parseTap(text) {
  const results = new Map();
  for (const line of text.split('\n')) {
    const m = /^(not ok|ok) \d+ - (\S+)(?: # (.*))?$/.exec(line);
    if (!m) continue;
    const skip = m[1] === 'ok' && m[3]?.startsWith('SKIP') ? m[3].slice(4).trim() : null;
    results.set(m[2], m[1] === 'not ok' ? 'fail' : skip !== null ? `skip: ${skip}` : 'ok');
  }
  return results;
}

/** Test names of a list file: one a line; blank lines and # comments ignored. */
export function readList(file) {
  let text;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`cannot read test list ${file}: ${e.code ?? e.message}`); }
  const names = text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  if (!names.length) throw new UsageError(`test list ${file} names no test`);
  return names;
}

// options of `zdtm.py run` naming a path: zdtm.py runs in the work copy, so they are made absolute here
const PATH_OPTIONS = ['--report', '--from', '-F', '--criu-bin', '--crit-bin'];

/** args with the values of PATH_OPTIONS resolved against our working directory. */
export function absolutePaths(args) {
  return args.map((a, i) => {
    if (i > 0 && PATH_OPTIONS.includes(args[i - 1])) return resolve(a);
    const opt = PATH_OPTIONS.find((o) => o.startsWith('--') && a.startsWith(`${o}=`));
    return opt ? `${opt}=${resolve(a.slice(opt.length + 1))}` : a;
  });
}

/** Runs run.sh with our engine; resolves to its exit status (a signal counts as failure). */
function runSuite(args) {
  const child = spawn(join(SUITE, 'run.sh'), ['--criu-bin', CKPT, '--crit-bin', CRIT, ...absolutePaths(args)],
    { stdio: 'inherit', env: { ...process.env, ZDTM_WORK: WORK } });
  // Ctrl-C/TERM reach run.sh's group (ours) by themselves; we only wait for it
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => {});
  return new Promise((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))));
}

/** The value of the last --name VALUE or --name=VALUE in args. */
const optionValue = (args, name) => {
  for (let i = args.length - 1; i >= 0; i--) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
};
const SELECTORS = /^(-[tTaF]|--(test|tests|all|from)(=|$))/;

/** --list FILE: each listed test once; every one must be reported "ok" without SKIP. */
async function runList(file, names, args) {
  let report = optionValue(args, '--report');
  const extra = [];
  if (!args.includes('--keep-going')) extra.push('--keep-going');
  if (report === undefined) {
    report = mkdtempSync(join(tmpdir(), 'zdtm-report-'));
    extra.push('--report', report);
  }
  report = resolve(report);
  const before = new Set(existsSync(report) ? readdirSync(report) : []);
  const status = await runSuite([...args, ...extra, ...names.flatMap((n) => ['-t', n])]);
  const taps = existsSync(report) ? readdirSync(report).filter((f) => /^criu-testreport.*\.tap$/.test(f) && !before.has(f)) : [];
  if (taps.length !== 1) {
    console.error(`zdtm: no new TAP report in ${report} (zdtm.py exited with ${status})`);
    return 1;
  }
  const results = parseTap(readFileSync(join(report, taps[0]), 'utf8'));
  const bad = names.filter((n) => results.get(n) !== 'ok').map((n) => `${n} (${results.get(n) ?? 'not run'})`);
  const passed = names.length - bad.length;
  console.log(`zdtm: ${passed}/${names.length} tests of ${file} passed; report ${join(report, taps[0])}`);
  if (bad.length) console.error(`zdtm: not passing: ${bad.join(', ')}`);
  return bad.length || status ? 1 : 0;
}

/**
 * --socketpair: the seed's socketpair recipe as CRIU runs it (test/others/socketpairs).
 * The program runs the engine at ../../../criu/criu: we lay that out in a
 * private directory rather than in the shared work copy.
 */
function runSocketpair(engine) {
  const src = join(SUITE, 'test/others/socketpairs');
  if (!existsSync(join(src, 'socketpair.c'))) throw new UsageError(`socketpair recipe not found at ${src}`);
  const dir = mkdtempSync(join(tmpdir(), 'zdtm-socketpair-'));
  const here = join(dir, 'test/others/socketpairs');
  mkdirSync(here, { recursive: true });
  for (const f of ['Makefile', 'socketpair.c']) copyFileSync(join(src, f), join(here, f));
  mkdirSync(join(dir, 'criu'));
  symlinkSync(engine, join(dir, 'criu/criu'));
  const steps = [['make', ['-s', 'socketpair']], ['./socketpair', []], ['./socketpair', ['-v']]];
  for (const [cmd, argv] of steps) {
    console.log(`zdtm: socketpair: ${[cmd, ...argv].join(' ')}`);
    // its own process group, killed whole on timeout (the program forks the engine)
    const r = spawnSync(cmd, argv, { cwd: here, stdio: 'inherit', timeout: 120_000, killSignal: 'SIGKILL', detached: true });
    if (r.error?.code === 'ETIMEDOUT') { try { process.kill(-r.pid, 'SIGKILL'); } catch {} }
    if (r.status !== 0) {
      const why = r.error?.code === 'ETIMEDOUT' ? 'timed out after 120 s' : r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      console.error(`zdtm: socketpair: ${[cmd, ...argv].join(' ')} failed (${why}); images and logs in ${join(here, 'images')}`);
      return 1;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  console.log('zdtm: socketpair: passed');
  return 0;
}

async function main(argv) {
  if (!existsSync(join(SUITE, 'run.sh'))) throw new UsageError(`ZDTM suite not found at ${SUITE} (expected beside the checkout as ../shared/zdtm, or set ZDTM_DIR)`);
  if (!existsSync(CKPT) || !existsSync(CRIT)) throw new UsageError(`${CKPT} or ${CRIT} missing: run npm ci first`);
  if (argv[0] === '--socketpair') {
    const engine = argv.length === 3 && argv[1] === '--criu-bin' ? resolve(argv[2]) : argv.length === 1 ? CKPT : null;
    if (!engine) throw new UsageError('--socketpair takes only --criu-bin ENGINE (default: our ckpt)');
    return runSocketpair(engine);
  }
  if (argv[0] !== '--list') {
    prepareWork(SUITE, WORK);
    return runSuite(argv);
  }
  const [, file, ...args] = argv;
  if (!file) throw new UsageError('--list needs a file of test names (test/zdtm/ckpt-pass.txt)');
  const names = readList(file);
  if (args.some((a) => SELECTORS.test(a))) throw new UsageError('--list FILE chooses the tests: give no -t, -T, -a or --from with it');
  prepareWork(SUITE, WORK);
  return runList(file, names, args);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    if (!(e instanceof UsageError)) throw e;
    console.error(`zdtm: ${e.message}`);
    process.exitCode = 2;
  });
}
