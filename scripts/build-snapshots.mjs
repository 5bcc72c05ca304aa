// Builds the V8 startup snapshots of crit and ckpt: node then starts with their
// modules, yargs and the compiled image schema already in its heap instead of
// resolving and compiling ~60 modules at every run (most of their start time).
// For each: bundle the CLI into one CommonJS file (esbuild), load it once with
// `node --build-snapshot`, check that the blob answers like the modules do,
// then rename it into place, with BLOB.id (a digest of it) beside it. The
// launchers (packages/*/bin/crit, bin/ckpt) use a blob, in a checkout, only when
// it is newer than the last compile; installed, once this node was seen to load
// it (remembered per id), so a failure here only costs speed. Native addons
// cannot live in a snapshot: they load at first use.
// Usage: node scripts/build-snapshots.mjs [crit|ckpt ...] (default: both).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const warmImages = `
import { encodeImage, imageToJsonText, messageNames, messagePlan } from '@ckpt/images';
for (const name of messageNames()) messagePlan(name); // the schema, parsed into the heap
const sample = encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] });
for (const form of ['plain', 'pretty']) imageToJsonText(sample, form);
`;

// crit also runs its commands once on the bundled sample dump, with stdout
// muted, so their code is compiled in the snapshot (about half of a small
// command's run time otherwise); Node gives the started process fresh stdio.
const SAMPLE = join(root, 'examples/loop-static');
const warmCrit = `
import { readdirSync } from 'node:fs';
const SAMPLE = ${JSON.stringify(SAMPLE)};
async function warmCommands() {
  const images = readdirSync(SAMPLE).filter((f) => f.endsWith('.img') && !f.startsWith('pages-')).map((f) => SAMPLE + '/' + f);
  const runs = images.flatMap((f) => [['decode', '-i', f], ['decode', '--pretty', '-i', f], ['show', f], ['info', f]]);
  for (const x of ['ps', 'fds', 'mems', 'rss']) runs.push(['x', SAMPLE, x]);
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    for (const argv of runs) await main(argv);
  } finally {
    process.stdout.write = write;
  }
  if (process.exitCode) throw new Error('a warm-up command failed');
}
warmCommands();
`;

const TARGETS = [
  // crit runs once and is done: V8 inlining the image decoders' helpers into
  // them made their optimizing compile take 15-20 ms (on another core, while
  // they ran unoptimized) for a few percent of speed afterwards; set at start,
  // as a V8 snapshot is refused under flags other than its own
  { name: 'crit', pkg: 'packages/crit', imports: '', warm: warmCrit, flags: '--max-inlined-bytecode-size=100', check: ['show', join(SAMPLE, 'pstree.img')] },
  { name: 'ckpt', pkg: 'packages/engine', imports: "import './dump.js';", warm: '', flags: '', check: ['dump', '--help'] },
];

// each bundled module keeps its own import.meta.url, so files it finds next to
// itself (schema.json, the native addon, restore's helper, the packages it
// requires lazily) are found as before: while the snapshot is built, where the
// module is here; when it runs, where its package is then (an installed snapshot
// runs far from the checkout that built it)
function owningPackage(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (name) return { name, dir };
    } catch { /* no package.json here */ }
  }
  throw new Error(`${file}: in no package`);
}
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const { name, dir } = owningPackage(args.path);
      const url = `__moduleUrl(${JSON.stringify(name)}, ${JSON.stringify(relative(dir, args.path))}, ${JSON.stringify(pathToFileURL(args.path).href)})`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};
// at run time a package is found from the bundle (process.argv[1], PKG/dist/NAME-snapshot.cjs) as
// Node would find it: the bundle's own package is the one it is in, the others are resolved from there
const moduleUrlBanner = (own) => `var __moduleUrl = (() => {
  const roots = new Map();
  return (name, rel, built) => {
    if (require('node:v8').startupSnapshot.isBuildingSnapshot()) return built;
    let root = roots.get(name);
    if (root === undefined) {
      const { dirname, join } = require('node:path');
      const bundle = require('node:fs').realpathSync(process.argv[1]);
      root = dirname(dirname(bundle));
      if (name !== ${JSON.stringify(own)}) {
        root = dirname(require('node:module').createRequire(bundle).resolve(name));
        while (!require('node:fs').existsSync(join(root, 'package.json'))) root = dirname(root);
      }
      roots.set(name, root);
    }
    return require('node:url').pathToFileURL(require('node:path').join(root, rel)).href;
  };
})();`;

function answer(args) {
  try {
    return execFileSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    return `${e.status}:${e.stdout}${e.stderr}`;
  }
}

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!TARGETS.some((t) => t.name === name)) {
    console.error(`build-snapshots: no snapshot named ${name} (crit, ckpt)`);
    process.exit(2);
  }
}
for (const t of TARGETS.filter((x) => !wanted.length || wanted.includes(x.name))) {
  const dist = join(root, t.pkg, 'dist');
  const entry = join(dist, 'snapshot-entry.mjs');
  const bundle = join(dist, `${t.name}-snapshot.cjs`);
  const blob = join(dist, `${t.name}.blob`);
  const fresh = `${blob}.${process.pid}.tmp`; // renamed over the blob only once verified
  const pkgName = JSON.parse(readFileSync(join(root, t.pkg, 'package.json'), 'utf8')).name;
  writeFileSync(entry, `import v8 from 'node:v8';
import { main } from './cli.js';
${t.imports}
${warmImages}
${t.warm}
v8.startupSnapshot.setDeserializeMainFunction(() => {
${t.flags ? `  v8.setFlagsFromString(${JSON.stringify(t.flags)});\n` : ''}  // the launcher moved NODE_EXTRA_CA_CERTS aside so that Node does not load a CA
  // bundle at start (no TLS here); the processes we start get it back
  const ca = process.env.CKPT_EXTRA_CA_CERTS;
  if (ca !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = ca;
    delete process.env.CKPT_EXTRA_CA_CERTS;
  }
  // and the malloc tuning it may have set is for this process only
  if (process.env.CKPT_SET_GLIBC_TUNABLES !== undefined) {
    delete process.env.GLIBC_TUNABLES;
    delete process.env.CKPT_SET_GLIBC_TUNABLES;
  }
  main(process.argv.slice(2));
});
`);
  try {
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'error', plugins: [ownImportMetaUrl], banner: { js: moduleUrlBanner(pkgName) } });
    execFileSync(process.execPath, ['--snapshot-blob', fresh, '--build-snapshot', bundle], { cwd: dist, stdio: ['ignore', 'ignore', 'pipe'] });
    const viaBlob = answer(['--snapshot-blob', fresh, bundle, ...t.check]);
    const viaModules = answer([join(root, t.pkg, `bin/${t.name}.js`), ...t.check]);
    if (viaBlob !== viaModules) throw new Error(`snapshot answers ${JSON.stringify(viaBlob)}, modules ${JSON.stringify(viaModules)}`);
    // what an installed launcher remembers this node's check of (bin/crit, bin/ckpt)
    writeFileSync(`${blob}.id`, `${createHash('sha256').update(readFileSync(fresh)).digest('hex').slice(0, 16)}\n`);
    renameSync(fresh, blob);
    console.log(`${t.name}: startup snapshot -> ${blob}`);
  } catch (e) {
    rmSync(fresh, { force: true });
    rmSync(blob, { force: true }); // an older blob would run older code
    rmSync(`${blob}.id`, { force: true });
    console.warn(`${t.name}: no startup snapshot (${e.message.split('\n')[0]}); it will start from its modules`);
  } finally {
    rmSync(entry, { force: true });
  }
}
