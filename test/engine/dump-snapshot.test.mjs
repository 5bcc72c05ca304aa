// bin/ckpt starts `dump` from the V8 startup snapshot (scripts/build-snapshots.mjs):
// the same program dumped through the modules (-R) and then through the snapshot must give the same
// images (modulo what moves between two dumps: times, the run id), and the tree is killed as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, imageSet, kill, launch, needPtrace, ROOT, workDir } from './helpers.mjs';
import { decodeAll } from './compare.mjs';

const BIN = join(ROOT, 'packages/engine/bin/ckpt');
const BLOB = join(ROOT, 'packages/engine/dist/ckpt.blob');

// fields that differ between two dumps of the same idle program
const VOLATILE = new Set(['dump_criu_run_id', 'freezing_time', 'frozen_time', 'memdump_time', 'memwrite_time', 'monotonic', 'boottime']);
const strip = (v) => JSON.parse(JSON.stringify(v, (k, x) => (VOLATILE.has(k) ? undefined : typeof x === 'bigint' ? String(x) : x)));

test('bin/ckpt dump (startup snapshot) writes the same images as the modules and kills the tree', async (t) => {
  if (!needPtrace(t)) return;
  if (!existsSync(BLOB)) {
    if (process.env.CI) assert.fail(`no startup snapshot at ${BLOB} (npm run build makes it)`);
    t.skip('no startup snapshot built');
    return;
  }
  // a compile after the snapshot makes bin/ckpt fall back to the modules (the blob holds older code)
  const built = statSync(BLOB).mtimeMs;
  const newer = ['packages/engine', 'packages/images'].map((p) => join(ROOT, p, 'tsconfig.tsbuildinfo'))
    .filter((f) => existsSync(f) && statSync(f).mtimeMs >= built);
  if (newer.length) {
    t.skip(`startup snapshot older than ${newer.join(', ')} (npm run build remakes it)`);
    return;
  }
  const dir = workDir('snapshot');
  // an idle program (it only waits in pause()), so that two dumps of it see the same state
  const prog = compile('bigmem', dir);
  const h = await launch(prog, ['8']);
  try {
    const viaModules = join(dir, 'img-modules'), viaSnapshot = join(dir, 'img-snapshot');
    const a = ckpt(['dump', '-t', String(h.pid), '-D', viaModules, '-R', '-v0']);
    assert.equal(a.status, 0, a.stderr);
    // the launcher must really take the snapshot path here: node is started with --snapshot-blob
    const trace = spawnSync('sh', ['-x', BIN, 'dump', '-t', String(h.pid), '-D', viaSnapshot, '-v4', '-o', 'dump.log'], { encoding: 'utf8' });
    assert.equal(trace.status, 0, trace.stderr);
    assert.match(trace.stderr, /--snapshot-blob/, 'bin/ckpt did not use the startup snapshot');
    assert.match(readFileSync(join(viaSnapshot, 'dump.log'), 'utf8'), /Dumping finished successfully/);
    assert.equal(alive(h.pid), false, 'the dumped program must be gone without --leave-running');
    assert.deepEqual(imageSet(viaSnapshot), imageSet(viaModules));
    const [x, y] = [await decodeAll(viaModules), await decodeAll(viaSnapshot)];
    for (const name of Object.keys(x)) assert.deepEqual(strip(y[name]), strip(x[name]), name);
    // same pages (the bytes themselves may differ: the kernel rewrites rseq's cpu_id when the task runs the
    // injected syscalls, on whichever CPU)
    assert.equal(statSync(join(viaSnapshot, 'pages-1.img')).size, statSync(join(viaModules, 'pages-1.img')).size);
  } finally {
    kill(h);
  }
});
