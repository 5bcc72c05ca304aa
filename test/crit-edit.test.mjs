// crit set and crit edit on copies of corpus images: the new value reads back,
// every other byte stays, and bad edits are refused with their JSON path and
// leave the file untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS, CRIT, corpusOrSkip } from './lib/corpus.mjs';
import { run } from './lib/run.mjs';

const crit = (args, env = {}) => run(CRIT, args, { env: { NO_COLOR: '1', ...env } });

function copy(caseName, file) {
  const dir = mkdtempSync(join(tmpdir(), 'crit-edit-'));
  const path = join(dir, file);
  copyFileSync(join(CORPUS, caseName, file), path);
  return { dir, path, before: readFileSync(path) };
}

/** The span of bytes where two buffers differ, once their common head and tail are taken off. */
function changedWindow(a, b) {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { head, before: a.length - head - tail, after: b.length - head - tail };
}

async function decodedPaths(before, after) {
  const { diffValues } = await import('../packages/crit/dist/diff/values.js');
  const paths = [];
  diffValues(before, after, '', (op, p, a, b) => paths.push([p, a, b]));
  return paths;
}

async function decodePretty(path) {
  const r = await crit(['decode', '-i', path, '--pretty']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const CHANGES = [
  { what: 'an inet socket address', case: 'inet', file: 'files.img', path: 'entries[5].isk.src_addr', value: '10.1.2.3', pretty: true,
    expect: [['entries[5].isk.src_addr[0]', '127.0.0.1', '10.1.2.3']] },
  { what: 'an IPv6 socket address', case: 'inet', file: 'files.img', path: 'entries[6].isk.src_addr[0]', value: 'fd00::1:2', pretty: true, resized: true,
    expect: [['entries[6].isk.src_addr[0]', '::1', 'fd00::1:2']] },
  { what: 'a file path', case: 'files', file: 'files.img', path: 'entries[5].reg.name', value: '/tmp/corpus-run/files/tmpdir.iTW10n/RO.txt',
    expect: [['entries[5].reg.name', '/tmp/corpus-run/files/tmpdir.iTW10n/ro.txt', '/tmp/corpus-run/files/tmpdir.iTW10n/RO.txt']] },
  { what: 'a register', case: 'loop-static', file: 'core-6433.img', path: 'entries[0].thread_info.gpregs.r12', value: '0x479abc', pretty: true,
    expect: [['entries[0].thread_info.gpregs.r12', '0x479012', '0x479abc']] },
  { what: 'a register, plain number', case: 'loop-static', file: 'core-6433.img', path: 'entries[0].thread_info.gpregs.r13', value: '7',
    expect: [['entries[0].thread_info.gpregs.r13', '0x1', '0x7']] },
];

for (const c of CHANGES) {
  test(`crit set ${c.what}: decode shows it, every other byte unchanged`, async (t) => {
    if (!corpusOrSkip(t)) return;
    const f = copy(c.case, c.file);
    try {
      const mode = 0o640;
      chmodSync(f.path, mode);
      const before = await decodePretty(f.path);
      const r = await crit(['set', f.path, c.path, c.value, ...(c.pretty ? ['--pretty-input'] : [])]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), /changed/);
      const after = await decodePretty(f.path);
      assert.deepEqual(await decodedPaths(before, after), c.expect);
      // only the value's bytes (and the length prefixes of the messages around it, when its size changed) differ
      const bytes = readFileSync(f.path);
      const w = changedWindow(f.before, bytes);
      assert.ok(w.after > 0 && w.before < 80 && w.after < 80, `one small changed window: ${JSON.stringify(w)}`);
      if (!c.resized) assert.equal(bytes.length, f.before.length, 'same size');
      assert.equal(statSync(f.path).mode & 0o777, mode, 'permissions kept');
      // setting it back gives the original file
      const back = c.expect[0][1];
      const undo = await crit(['set', f.path, c.expect[0][0], back, '--pretty-input']);
      assert.equal(undo.code, 0, undo.stderr);
      assert.deepEqual(readFileSync(f.path), f.before);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  });
}

const BAD = [
  { what: 'wrong type', case: 'inet', file: 'files.img', args: ['entries[5].isk.src_port', 'abc', '--pretty-input'], path: 'entries[5].isk.src_port', msg: /expected an integer/ },
  { what: 'text where plain JSON wants a number', case: 'inet', file: 'files.img', args: ['entries[5].isk.src_port', '0x50'], path: 'entries[5].isk.src_port', msg: /--pretty-input/ },
  { what: 'out of range', case: 'inet', file: 'files.img', args: ['entries[5].isk.src_port', '4294967296'], path: 'entries[5].isk.src_port', msg: /out of range/ },
  { what: 'unknown enum', case: 'inet', file: 'files.img', args: ['entries[5].type', 'SOCKET'], path: 'entries[5].type', msg: /unknown fd_types value "SOCKET"/ },
  { what: 'unknown dict name', case: 'inet', file: 'files.img', args: ['entries[5].isk.state', 'OPEN', '--pretty-input'], path: 'entries[5].isk.state', msg: /LISTEN/ },
  { what: 'unknown flag', case: 'files', file: 'files.img', args: ['entries[5].reg.flags', 'O_RDWR | O_BOGUS', '--pretty-input'], path: 'entries[5].reg.flags', msg: /unknown flag "O_BOGUS"/ },
  { what: 'bad IP address', case: 'inet', file: 'files.img', args: ['entries[5].isk.src_addr', '10.1.2.300', '--pretty-input'], path: 'entries[5].isk.src_addr[0]', msg: /not an IPv4 or IPv6 address/ },
  { what: 'IPv6 address on an IPv4 socket', case: 'inet', file: 'files.img', args: ['entries[5].isk.src_addr', '::1', '--pretty-input'], path: 'entries[5].isk.src_addr', msg: /IPv4/ },
  { what: 'not a boolean', case: 'inet', file: 'files.img', args: ['entries[5].isk.opts.reuseaddr', 'false', '--pretty-input'].map((x) => (x === 'false' ? '"false"' : x)), path: 'entries[5].isk.opts.reuseaddr', msg: /true or false/ },
  { what: 'missing path', case: 'inet', file: 'files.img', args: ['entries[99].isk.state', '1'], path: 'entries[99].isk.state', msg: /no such path/ },
  { what: 'missing intermediate', case: 'inet', file: 'files.img', args: ['entries[5].reg.name', '"/x"'], path: 'entries[5].reg.name', msg: /entries\[5\]\.reg is not in this image/ },
  { what: 'unknown field', case: 'inet', file: 'files.img', args: ['entries[5].isk.port', '80'], path: 'entries[5].isk.port', msg: /no such field/ },
  { what: 'register with a bad value', case: 'loop-static', file: 'core-6433.img', args: ['entries[0].thread_info.gpregs.ip', 'here', '--pretty-input'], path: 'entries[0].thread_info.gpregs.ip', msg: /expected an integer/ },
];

for (const c of BAD) {
  test(`crit set refuses ${c.what}, names ${c.path}, leaves the file untouched`, async (t) => {
    if (!corpusOrSkip(t)) return;
    const f = copy(c.case, c.file);
    try {
      const mtime = statSync(f.path).mtimeMs;
      const r = await crit(['set', f.path, ...c.args]);
      assert.equal(r.code, 1, r.stdout.toString());
      assert.ok(r.stderr.includes(`at ${c.path}: `), r.stderr);
      assert.match(r.stderr, c.msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      assert.deepEqual(readFileSync(f.path), f.before);
      assert.equal(statSync(f.path).mtimeMs, mtime);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  });
}

test('crit edit: an editor script changes a field; a bad edit is refused and changes nothing', async (t) => {
  if (!corpusOrSkip(t)) return;
  const f = copy('inet', 'files.img');
  try {
    const editor = join(f.dir, 'editor.mjs');
    // the "editor": a node script doing a textual replacement on the JSON file it is given
    writeFileSync(editor, `import { readFileSync, writeFileSync } from 'node:fs';
const [from, to, file] = process.argv.slice(2);
writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));\n`);
    const ed = (from, to) => `${process.execPath} ${editor} '${from}' '${to}'`;
    const r = await crit(['edit', f.path], { EDITOR: ed('"src_port": 47101', '"src_port": 8080') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /entries\[5\]\.isk\.src_port: 47101 → 8080/);
    const after = await decodePretty(f.path);
    assert.equal(after.entries[5].isk.src_port, 8080);
    const now = readFileSync(f.path);
    for (const [what, from, to, msg] of [
      ['unknown flag', '"flags": "0x2"', '"flags": "O_NOPE"', /at entries\[\d+\]\.isk\.flags: /],
      ['unknown field', '"ns_id"', '"ns_idd"', /at entries\[\d+\]\.isk\.ns_idd: no such field/],
      ['broken JSON', '"entries": [', '"entries": [[', /not valid JSON/],
      ['required field removed', '"type": "INETSK",', '', /missing required field type/],
    ]) {
      // the rejected text is kept under TMPDIR: here, in the test's own directory
      const bad = await crit(['edit', f.path], { EDITOR: ed(from, to), TMPDIR: f.dir });
      assert.equal(bad.code, 1, `${what}: ${bad.stdout}`);
      assert.match(bad.stderr, msg, what);
      assert.match(bad.stderr, /image is unchanged/, what);
      const kept = bad.stderr.match(/your edited text is kept in (.*)\)$/m)?.[1];
      assert.ok(kept?.startsWith(f.dir) && readFileSync(kept, 'utf8').includes(to), `${what}: ${bad.stderr}`);
      assert.deepEqual(readFileSync(f.path), now, what);
    }
    const quit = await crit(['edit', f.path], { EDITOR: 'false' });
    assert.equal(quit.code, 1);
    const same = await crit(['edit', f.path], { EDITOR: 'true' });
    assert.equal(same.code, 0);
    assert.match(same.stdout.toString(), /no change/);
    assert.deepEqual(readFileSync(f.path), now);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
