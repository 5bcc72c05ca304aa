// Builds a V8 startup snapshot of crit: node starts with crit's modules, yargs
// and the compiled schema already in its heap, instead of resolving and
// compiling ~60 modules at every run (the larger part of crit's start time).
// Steps: bundle dist/cli.js into one CommonJS file (esbuild), load everything
// once, write dist/crit.blob. bin/crit uses the blob when it exists and falls
// back to the plain modules otherwise, so a failure here only costs speed.
import { execFileSync } from 'node:child_process';
import { copyFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'dist');
const entry = join(dist, 'snapshot-entry.mjs');
const bundle = join(dist, 'crit-snapshot.cjs');
const blob = join(dist, 'crit.blob');
const fresh = `${blob}.${process.pid}.tmp`; // renamed over the blob only once verified: never a half-written blob

writeFileSync(entry, `
import v8 from 'node:v8';
import { main } from './cli.js';
import { encodeImage, imageToJsonText, messageNames, messagePlan } from '@ckpt/images';
for (const name of messageNames()) messagePlan(name); // the schema, parsed into the heap
// run the decoders once so that their bytecode is part of the snapshot too
const sample = encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] });
for (const form of ['plain', 'pretty']) imageToJsonText(sample, form);
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
    // modules that locate files next to themselves do so relative to the bundle
    define: { 'import.meta.url': '__crit_bundle_url' },
    banner: { js: "const __crit_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  copyFileSync(join(pkg, '../images/dist/schema.json'), join(dist, 'schema.json'));
  execFileSync(process.execPath, ['--snapshot-blob', fresh, '--build-snapshot', bundle], { cwd: dist, stdio: ['ignore', 'ignore', 'pipe'] });
  // the blob must answer like the modules do, or it is not used
  const viaBlob = execFileSync(process.execPath, ['--snapshot-blob', fresh, bundle, '--version']).toString();
  const viaModules = execFileSync(process.execPath, [join(pkg, 'bin/crit.js'), '--version']).toString();
  if (viaBlob !== viaModules) throw new Error(`snapshot answers ${JSON.stringify(viaBlob)}, modules ${JSON.stringify(viaModules)}`);
  renameSync(fresh, blob);
  console.log(`crit: startup snapshot -> ${blob}`);
} catch (e) {
  rmSync(fresh, { force: true });
  rmSync(blob, { force: true }); // an older blob would run older code
  console.warn(`crit: no startup snapshot (${e.message.split('\n')[0]}); crit will start from its modules`);
} finally {
  rmSync(entry, { force: true });
}
