// crit's output files (-o): a regular file, or a name not there yet, is replaced atomically through a
// temporary file of a random name; a device, a FIFO or a symlink's target is written in place, as upstream
// CRIT does (renaming over /dev/null once replaced the machine's /dev/null with a file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CRIT } from './lib/corpus.mjs';
import { run } from './lib/run.mjs';

const img = resolve('examples/loop-static/pstree.img');
const dir = mkdtempSync(join(tmpdir(), 'crit-out-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
// what -o writes: decode's stdout without the newline print() adds (as upstream)
const expected = async () => (await run(CRIT, ['decode', '-i', img])).stdout.toString().replace(/\n$/, '');
const noTemporaries = () => assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');

function needRoot(t) {
  if (process.getuid?.() === 0) return true;
  assert.ok(!process.env.CI, 'device nodes need root');
  t.skip('device nodes need root');
  return false;
}

test('crit -o over a character device writes into it and leaves the device node', async (t) => {
  if (!needRoot(t)) return;
  const dev = join(dir, 'null');
  execFileSync('mknod', [dev, 'c', '1', '3']);
  const before = statSync(dev);
  const r = await run(CRIT, ['decode', '-i', img, '-o', dev]);
  assert.equal(r.code, 0, r.stderr);
  const after = lstatSync(dev);
  assert.ok(after.isCharacterDevice(), 'still a character device');
  assert.deepEqual([after.ino, after.rdev], [before.ino, before.rdev]);
  noTemporaries();
});

test('crit -o into a FIFO writes to its reader and leaves the FIFO', async () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = spawn('cat', [fifo]);
  const got = [];
  reader.stdout.on('data', (d) => got.push(d));
  const done = new Promise((r) => reader.on('close', r));
  const timer = setTimeout(() => reader.kill(), 10000); // a FIFO replaced by a file has no writer ever
  const w = await run(CRIT, ['decode', '-i', img, '-o', fifo], { timeout: 20000 });
  assert.equal(w.code, 0, w.stderr);
  await done;
  clearTimeout(timer);
  assert.equal(Buffer.concat(got).toString(), await expected());
  assert.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
  noTemporaries();
});

test('crit -o through a symlink writes its target and keeps the link', async () => {
  const target = join(dir, 'target.json');
  const link = join(dir, 'link.json');
  writeFileSync(target, 'old contents that are longer than nothing\n'.repeat(200));
  symlinkSync(target, link);
  const r = await run(CRIT, ['decode', '-i', img, '-o', link]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(link).isSymbolicLink(), 'still a symlink');
  assert.equal(readFileSync(target, 'utf8'), await expected());
  noTemporaries();
});

test('crit -o over a regular file replaces it atomically and keeps its mode; errors name the output, not a temporary', async () => {
  const out = join(dir, 'out.json');
  writeFileSync(out, 'old');
  chmodSync(out, 0o600);
  const before = statSync(out);
  const r = await run(CRIT, ['decode', '-i', img, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const after = statSync(out);
  assert.notEqual(after.ino, before.ino, 'a new file took its name');
  assert.equal(after.mode & 0o7777, 0o600);
  assert.equal(readFileSync(out, 'utf8'), await expected());
  noTemporaries();
  const missing = join(dir, 'no-such-dir', 'out.json');
  const e = await run(CRIT, ['decode', '-i', img, '-o', missing]);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.doesNotMatch(e.stderr, /\.tmp/);
});
