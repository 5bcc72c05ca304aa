// Builds a V8 startup snapshot of ckpt (as packages/crit does for crit): node starts with ckpt's
// modules, yargs and the compiled image schema already in its heap instead of resolving and
// compiling them at every run (~45 ms of a dump's start here). The native addon cannot live in a
// snapshot; native.ts loads it at first use, after deserialisation. bin/ckpt uses the blob for
// `dump` when it is newer than the last compile and falls back to the modules otherwise, so a
// failure here only costs speed.
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'dist');
const entry = join(dist, 'snapshot-entry.mjs');
const bundle = join(dist, 'ckpt-snapshot.cjs');
const blob = join(dist, 'ckpt.blob');
const fresh = `${blob}.${process.pid}.tmp`; // renamed over the blob only once verified

writeFileSync(entry, `
import v8 from 'node:v8';
import { main } from './cli.js';
import './dump.js';
import { encodeImage, messageNames, messagePlan } from '@ckpt/images';
for (const name of messageNames()) messagePlan(name); // the schema, parsed into the heap
// encode once so that the encoder's bytecode is in the snapshot too
encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] });
v8.startupSnapshot.setDeserializeMainFunction(() => main(process.argv.slice(2)));
`);

try {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'error',
    // modules that locate files next to themselves (native.ts: the addon; restore: its helper;
    // images: schema.json) keep doing so from where they are: each one's import.meta.url becomes
    // its own file's URL, not the bundle's
    plugins: [{
      name: 'own-import-meta-url',
      setup(b) {
        b.onLoad({ filter: /\.[cm]?js$/ }, (args) => {
          const text = readFileSync(args.path, 'utf8');
          if (!text.includes('import.meta.url')) return undefined;
          return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'js' };
        });
      },
    }],
  });
  execFileSync(process.execPath, ['--snapshot-blob', fresh, '--build-snapshot', bundle], { cwd: dist, stdio: ['ignore', 'ignore', 'pipe'] });
  // the blob must answer like the modules do, or it is not used
  const ask = (args) => {
    try {
      return execFileSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (e) {
      return `${e.status}:${e.stdout}${e.stderr}`;
    }
  };
  const viaBlob = ask(['--snapshot-blob', fresh, bundle, 'dump', '--help']);
  const viaModules = ask([join(pkg, 'bin/ckpt.js'), 'dump', '--help']);
  if (viaBlob !== viaModules) throw new Error(`snapshot answers ${JSON.stringify(viaBlob)}, modules ${JSON.stringify(viaModules)}`);
  renameSync(fresh, blob);
  console.log(`ckpt: startup snapshot -> ${blob}`);
} catch (e) {
  rmSync(fresh, { force: true });
  rmSync(blob, { force: true }); // an older blob would run older code
  console.warn(`ckpt: no startup snapshot (${e.message.split('\n')[0]}); ckpt will start from its modules`);
} finally {
  rmSync(entry, { force: true });
}
