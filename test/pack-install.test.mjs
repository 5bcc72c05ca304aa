// The packages as a user gets them: `npm pack` each (images, crit, engine), `npm i -g` the tarballs into an
// empty prefix, and both tools work there with this checkout out of sight (a tmpfs over it, in a mount
// namespace of their own): crit from its startup snapshot, ckpt with the addon and restore helper its
// install built, a real dump and restore. And crit installs and runs with no C compiler on PATH.
// Needs root (mount namespaces, ptrace) and the registry or npm's cache for the third-party dependencies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, ROOT } from './engine/helpers.mjs';
import { CORPUS, corpusOrSkip } from './lib/corpus.mjs';
import { killPids, lines, ticks, waitGone } from './engine/restore-lib.mjs';

const PACKAGES = ['images', 'crit', 'engine'];
const VERSION = JSON.parse(readFileSync(join(ROOT, 'packages/engine/package.json'), 'utf8')).version;
const SAMPLE = join(ROOT, 'examples/loop-static');
const NPM = process.env.npm_execpath ?? realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());

let work; // everything this test makes: tarballs, prefixes, a cache for the launchers' marks, the dumped program
let why; // why the test cannot run here (it fails under CI)

/** npm in a clean environment (none of the npm_* variables of an enclosing `npm test`) */
function npm(args, env = {}, cwd = work) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const r = spawnSync(process.execPath, [NPM, ...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd, encoding: 'utf8', env: { ...clean, ...env }, timeout: 300_000,
  });
  assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** runs cmd with this checkout hidden under an empty read-only tmpfs */
function hidden(cmd, args, env = {}) {
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o ro none "$0" && exec "$@"', ROOT, cmd, ...args], {
    encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(work, 'cache'), ...env }, timeout: 60_000,
  });
}

function skipOrFail(t) {
  if (!why) return false;
  if (process.env.CI) assert.fail(`pack-install: ${why}`);
  t.skip(why);
  return true;
}

before(() => {
  if (process.getuid?.() !== 0) {
    why = 'needs root (a mount namespace hides the checkout; dump and restore need ptrace)';
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'ckpt-pack-'));
  // the checkout is built (npm ci): pack what it has, without prepack's rebuild under the other tests' feet
  npm(['pack', '--ignore-scripts', '--pack-destination', work, ...PACKAGES.flatMap((p) => ['-w', `packages/${p}`])], {}, ROOT);
  const tarballs = PACKAGES.map((p) => join(work, `ckpt-${p}-${VERSION}.tgz`));
  for (const t of tarballs) assert.ok(existsSync(t), `npm pack made ${t}`);
  npm(['i', '-g', '--prefix', join(work, 'all'), '--prefer-offline', ...tarballs]);
  // crit alone, with no compiler to be found: node and a shell for npm's scripts, nothing else on PATH
  const bare = join(work, 'bare-bin');
  mkdirSync(bare);
  symlinkSync(process.execPath, join(bare, 'node'));
  symlinkSync('/bin/sh', join(bare, 'sh'));
  npm(['i', '-g', '--prefix', join(work, 'crit-only'), '--prefer-offline', tarballs[0], tarballs[1]], { PATH: bare, CC: '', CXX: '' });
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('packed: each package carries its LICENSE, license, engines and only what it needs', (t) => {
  if (skipOrFail(t)) return;
  for (const p of PACKAGES) {
    const files = execFileSync('tar', ['tzf', join(work, `ckpt-${p}-${VERSION}.tgz`)], { encoding: 'utf8' }).split('\n');
    const meta = JSON.parse(execFileSync('tar', ['xzOf', join(work, `ckpt-${p}-${VERSION}.tgz`), 'package/package.json'], { encoding: 'utf8' }));
    assert.ok(files.includes('package/LICENSE'), `${p}: LICENSE`);
    assert.equal(meta.license, 'MIT', `${p}: license`);
    assert.ok(meta.engines?.node, `${p}: engines.node`);
    assert.ok(!files.some((f) => /^package\/(src|test|build)\//.test(f) || /\.tsbuildinfo$/.test(f)), `${p}: no sources, tests or build products: ${files.filter((f) => /src\/|build\/|tsbuildinfo/.test(f))}`);
    assert.equal(files.includes('package/binding.gyp'), p === 'engine', `${p}: a native build only in the engine`);
  }
});

/** crit from the checkout's modules, and from an install with the checkout hidden (traced: sh -x) */
const checkoutCrit = (args) => execFileSync(process.execPath, [join(ROOT, 'packages/crit/bin/crit.js'), ...args], { encoding: 'utf8' });
const installedCrit = (prefix, args) => hidden('sh', ['-x', join(work, prefix, 'bin/crit'), ...args], { XDG_CACHE_HOME: join(work, `cache-${prefix}`) });
/** the sample dump is in the checkout: a copy outside it */
function sample() {
  const dir = join(work, 'sample');
  if (!existsSync(dir)) {
    mkdirSync(dir);
    for (const f of readdirSync(SAMPLE)) writeFileSync(join(dir, f), readFileSync(join(SAMPLE, f)));
  }
  return dir;
}

test('installed crit: runs from its startup snapshot, with the checkout out of sight', (t) => {
  if (skipOrFail(t)) return;
  const expected = checkoutCrit(['x', SAMPLE, 'ps']);
  for (const prefix of ['all', 'crit-only']) {
    // the first run tries the blob with this node and remembers it; the next ones go straight to it
    for (const round of ['first', 'next']) {
      const r = installedCrit(prefix, ['x', sample(), 'ps']);
      assert.equal(r.status, 0, `${prefix} ${round}: ${r.stderr}`);
      assert.equal(r.stdout, expected, `${prefix} ${round}: the checkout's output`);
      assert.match(r.stderr, /\+ exec node --snapshot-blob \S+\/dist\/crit\.blob /, `${prefix} ${round}: started from the snapshot`);
      assert.equal(/--snapshot-blob \S+ \S+ --version/.test(r.stderr), round === 'first', `${prefix} ${round}: the blob tried only once`);
    }
  }
});

test('installed crit: the packages its snapshot loads at first use are found in the install', (t) => {
  if (skipOrFail(t)) return;
  // 64-bit numbers in the JSON: encode loads lossless-json
  const core = readdirSync(sample()).find((f) => /^core-\d+\.img$/.test(f));
  const json = join(work, 'core.json');
  const back = join(work, 'core.img');
  for (const args of [['decode', '-i', join(sample(), core), '-o', json], ['encode', '-i', json, '-o', back]]) {
    const r = installedCrit('all', args);
    assert.equal(r.status, 0, `crit ${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /\+ exec node --snapshot-blob /);
  }
  assert.match(readFileSync(json, 'utf8'), /\d{16}/, 'the JSON has numbers only lossless-json reads');
  assert.deepEqual(readFileSync(back), readFileSync(join(sample(), core)), 'decode then encode gives the same bytes');
  // inet sockets: x sk loads ip-address
  if (!corpusOrSkip(t)) return;
  const r = installedCrit('all', ['x', join(CORPUS, 'inet'), 'sk']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, checkoutCrit(['x', join(CORPUS, 'inet'), 'sk']));
  assert.match(r.stdout, /127\.0\.0\.1:\d+/);
});

test('installed crit: a blob this node cannot load is tried once, refused, and crit starts from its modules', (t) => {
  if (skipOrFail(t)) return;
  // here a damaged one (a blob built by another node version is refused the same way)
  const pkg = join(work, 'crit-only/lib/node_modules/@ckpt/crit');
  writeFileSync(join(pkg, 'dist/crit.blob'), Buffer.alloc(4096));
  writeFileSync(join(pkg, 'dist/crit.blob.id'), 'damaged\n');
  const r = installedCrit('crit-only', ['x', sample(), 'ps']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, checkoutCrit(['x', SAMPLE, 'ps']));
  assert.match(r.stderr, /--snapshot-blob \S+ \S+ --version/, 'the new blob was tried');
  assert.match(r.stderr, /\+ exec node \S+\/bin\/crit\.js x /, 'started from the modules');
  assert.ok(!existsSync(join(work, 'cache-crit-only/ckpt/crit-snapshot-damaged')), 'a refused blob is not remembered');
});

test('installed ckpt: --version, check, and a dump and restore, with the checkout out of sight', async (t) => {
  if (skipOrFail(t)) return;
  const bin = join(work, 'all/bin');
  const v = hidden(join(bin, 'ckpt'), ['--version']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^${VERSION.replaceAll('.', '\\.')}\\b`));
  const c = hidden(join(bin, 'ckpt'), ['check']);
  assert.equal(c.status, 0, `ckpt check: ${c.stdout}${c.stderr}`);
  assert.match(c.stdout, /Looks good/);
  for (const f of ['ckpt_native.node', 'ckpt-restore-helper']) {
    assert.ok(existsSync(join(work, 'all/lib/node_modules/@ckpt/engine/build/Release', f)), `the install built ${f}`);
  }

  // the program, ckpt and the restored program share one mount namespace (ckpt refuses a task in another)
  const dir = join(work, 'prog');
  mkdirSync(dir);
  execFileSync('gcc', ['-O1', '-static', '-o', join(dir, 'loop'), join(ROOT, 'test/engine/progs/loop-static.c')]);
  const script = `set -e
cd "$1"
setsid ./loop </dev/null >>out.log 2>&1 &
n=0; until grep -q READY out.log; do n=$((n+1)); [ $n -lt 100 ] || exit 3; sleep 0.05; done
sleep 0.6
pid=$(sed -n 's/^READY pid=//p' out.log)
echo "pid $pid"
sh -x "$2/ckpt" dump -t "$pid" -D img
n=0; while [ -e /proc/$pid ]; do n=$((n+1)); [ $n -lt 600 ] || exit 4; sleep 0.05; done
sh -x "$2/ckpt" restore -D img -d --pidfile restored.pid
echo "restored $(cat img/restored.pid)"  # criu resolves --pidfile in the work dir (-D)`;
  const r = hidden('sh', ['-c', script, 'sh', dir, bin]);
  const pid = Number(/^pid (\d+)/m.exec(r.stdout)?.[1]);
  try {
    assert.equal(r.status, 0, `dump and restore: ${r.stdout}${r.stderr}`);
    for (const cmd of ['dump', 'restore']) assert.match(r.stderr, new RegExp(`\\+ exec node --snapshot-blob \\S+/dist/ckpt\\.blob \\S+ ${cmd} `), `${cmd} from the snapshot`);
    assert.equal(Number(/^restored (\d+)/m.exec(r.stdout)?.[1]), pid, 'restored with its PID');
    const log = join(dir, 'out.log');
    const n = ticks(lines(log)).length;
    await eventually(() => {
      const all = ticks(lines(log));
      assert.ok(all.length >= n + 2, 'ticks after the restore');
      for (let i = 1; i < all.length; i++) assert.equal(all[i], all[i - 1] + 1, `the count goes on from where it was dumped: ${all}`);
    });
  } finally {
    if (pid) {
      killPids([pid]);
      await waitGone([pid]);
    }
  }
});
