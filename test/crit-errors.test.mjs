// crit's behaviour on bad input and awkward output: one line naming the file
// and the entry/offset (decode) or the JSON path (encode), exit 1, no partial
// output files, the input untouched, a closed stdout pipe ends quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { encodeImage } from '@ckpt/images';
import { CRIT } from './lib/corpus.mjs';
import { run } from './lib/run.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'crit-err-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const pstree = encodeImage({ magic: 'PSTREE', entries: [{ pid: 10, ppid: 0, pgid: 10, sid: 10, threads: [10] }, { pid: 11, ppid: 10, pgid: 10, sid: 10, threads: [11, 12] }] });

function oneLine(r, pattern) {
  assert.equal(r.code, 1, `exit code 1 expected, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
  assert.match(lines[0], pattern);
}

test('decode of a truncated image names file, entry and offset', async () => {
  const f = join(tmp, 'trunc.img');
  writeFileSync(f, pstree.subarray(0, pstree.length - 3));
  oneLine(await run(CRIT, ['decode', '-i', f]), /^crit: .*trunc\.img: entry 1 at offset \d+: .*truncated/);
});

test('empty file, missing file, directory, raw pages image, unknown magic', async () => {
  const empty = join(tmp, 'empty.img');
  writeFileSync(empty, '');
  oneLine(await run(CRIT, ['show', empty]), /empty\.img: .*empty file/);
  oneLine(await run(CRIT, ['info', join(tmp, 'missing.img')]), /missing\.img: no such file/);
  oneLine(await run(CRIT, ['decode', '-i', tmp]), /directory/);
  const pages = join(tmp, 'pages-1.img');
  writeFileSync(pages, Buffer.alloc(4096, 0x90));
  oneLine(await run(CRIT, ['decode', '-i', pages]), /pages-1\.img: raw image \(PAGES/);
  const junk = join(tmp, 'junk.img');
  writeFileSync(junk, Buffer.from('shark attack'));
  oneLine(await run(CRIT, ['decode', '-i', junk]), /unknown magic 0x72616873/);
});

test('encode errors name the JSON path and leave no output file', async () => {
  const out = join(tmp, 'out.img');
  const cases = [
    [{ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1 }] }, /entries\[0\]: pstree_entry is missing required field sid/],
    [{ magic: 'PSTREE', entries: [{ pid: -1, ppid: 0, pgid: 1, sid: 1 }] }, /entries\[0\]\.pid: value -1 is out of range for uint32/],
    [{ magic: 'MM', entries: [{ mm_start_code: 1, vmas: [{ start: '0x1000', end: 8192, pgoff: 0, shmid: 0, prot: 'PROT_READ | PROT_BOGUS', flags: 0, status: 0, fd: -1 }] }] }, /entries\[0\]\.vmas\[0\]\.prot: unknown flag "PROT_BOGUS"/],
    [{ magic: 'FILES', entries: [{ type: 'INETSK', id: 1, isk: { src_addr: ['300.1.1.1'] } }] }, /entries\[0\]\.isk\.src_addr\[0\]: not an IPv4 or IPv6 address/],
    [{ magic: 'CORE', entries: [{ mtype: 'X86_65' }] }, /entries\[0\]\.mtype: unknown march value "X86_65"/],
    [{ magic: 'FS', entries: [{ cwd_id: 1, root_id: 2, umask: 'false' }] }, /entries\[0\]\.umask: expected an integer/],
    [{ magic: 'INVENTORY', entries: [{ img_version: 2, fdinfo_per_id: 'false' }] }, /entries\[0\]\.fdinfo_per_id: expected true or false/],
    [{ magic: 'NOPE', entries: [] }, /at magic: unknown image type "NOPE"/],
    [{ magic: 'PSTREE' }, /at entries: missing "entries"/],
  ];
  for (const [doc, pattern] of cases) {
    oneLine(await run(CRIT, ['encode', '-o', out], { input: JSON.stringify(doc) }), pattern);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('out') || f.includes('.tmp')), [], 'no output, no temporary file');
  }
  oneLine(await run(CRIT, ['encode'], { input: '{"magic": "PSTREE", "entries": [' }), /not valid JSON/);
  oneLine(await run(CRIT, ['encode'], { input: pstree }), /not JSON \(a binary image\?\)/);
});

test('a failed encode over an existing file leaves it untouched', async () => {
  const f = join(tmp, 'keep.img');
  writeFileSync(f, pstree);
  oneLine(await run(CRIT, ['encode', '-o', f], { input: '{"magic": "PSTREE", "entries": [{"pid": "x"}]}' }), /entries\[0\]\.pid/);
  assert.ok(readFileSync(f).equals(pstree));
});

test('decode -o writes the JSON without a trailing newline; stdout gets one', async () => {
  const img = join(tmp, 'pstree.img');
  writeFileSync(img, pstree);
  const out = join(tmp, 'pstree.json');
  assert.equal((await run(CRIT, ['decode', '-i', img, '-o', out])).code, 0);
  const text = readFileSync(out, 'utf8');
  assert.ok(!text.endsWith('\n'));
  const r = await run(CRIT, ['decode'], { input: pstree });
  assert.equal(r.stdout.toString(), text + '\n');
  const back = await run(CRIT, ['encode', '-i', out]);
  assert.ok(back.stdout.equals(pstree));
});

test('a reader that closes the pipe early ends crit quietly', () => {
  const big = join(tmp, 'big.img');
  const entries = [{ pages_id: 1 }];
  for (let i = 0; i < 50000; i++) entries.push({ vaddr: 0x10000 + i * 8192, compat_nr_pages: 0, flags: 4, nr_pages: 1 });
  writeFileSync(big, encodeImage({ magic: 'PAGEMAP', entries }));
  const r = spawnSync('bash', ['-c', `set -o pipefail; "${CRIT}" decode -i "${big}" --pretty | head -c 100 >/dev/null`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('usage errors: unknown command, bad explorer, no command', async () => {
  const a = await run(CRIT, ['bogus']);
  assert.equal(a.code, 2);
  const b = await run(CRIT, ['x', '.', 'bogus']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /ps.*fds.*mems.*rss/);
  const c = await run(CRIT, []);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /too few arguments/);
  const h = await run(CRIT, ['decode', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout.toString(), /--pretty/);
});

test('x on a directory with a zombie task skips it instead of crashing', async () => {
  const d = mkdtempSync(join(tmp, 'zdir-'));
  const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
  writeFileSync(join(d, 'pstree.img'), encodeImage({ magic: 'PSTREE', entries: [{ pid: 10, ppid: 0, pgid: 10, sid: 10, threads: [10] }, { pid: 11, ppid: 10, pgid: 10, sid: 10 }] }));
  writeFileSync(join(d, 'core-10.img'), encodeImage({ magic: 'CORE', entries: [{ mtype: 'X86_64', tc: { task_state: 1, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0, comm: 'parent' } }] }));
  writeFileSync(join(d, 'core-11.img'), encodeImage({ magic: 'CORE', entries: [{ mtype: 'X86_64', tc: { task_state: 6, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0, comm: 'zombie' } }] }));
  writeFileSync(join(d, 'ids-10.img'), encodeImage({ magic: 'IDS', entries: [{ vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1 }] }));
  writeFileSync(join(d, 'fdinfo-1.img'), encodeImage({ magic: 'FDINFO', entries: [{ id: 1, flags: 0, type: 'REG', fd: 0 }] }));
  writeFileSync(join(d, 'files.img'), encodeImage({ magic: 'FILES', entries: [{ type: 'REG', id: 1, reg: { id: 1, flags: 0, pos: 0, fown, name: '/dev/null' } }] }));
  writeFileSync(join(d, 'fs-10.img'), encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 1 }] }));
  const ps = await run(CRIT, ['x', d, 'ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout.toString(), '    PID   PGID    SID   COMM\n     10     10     10   parent\n     11     10     10       zombie\n');
  const fds = await run(CRIT, ['x', d, 'fds']);
  assert.equal(fds.code, 0, fds.stderr);
  assert.equal(fds.stdout.toString(), '10\n\t      0: /dev/null\n\t    cwd: /dev/null\n\t   root: /dev/null\n');
});

test('crit starts from its startup snapshot, and from its modules when V8 flags are set', async () => {
  const img = join(tmp, 'snap-pstree.img');
  writeFileSync(img, pstree);
  const want = (await run(process.execPath, [join(CRIT, '../../@ckpt/crit/bin/crit.js'), 'show', img])).stdout.toString();
  const viaSnapshot = await run(CRIT, ['show', img]);
  assert.equal(viaSnapshot.code, 0, viaSnapshot.stderr);
  assert.equal(viaSnapshot.stdout.toString(), want);
  // V8 refuses a snapshot made under other flags: NODE_OPTIONS must not break crit
  const withFlags = await run(CRIT, ['show', img], { env: { NODE_OPTIONS: '--max-semi-space-size=16' } });
  assert.equal(withFlags.code, 0, withFlags.stderr);
  assert.equal(withFlags.stdout.toString(), want);
});

test('an image path that is a FIFO or a directory is refused at once, not waited on', async () => {
  const fifo = join(tmp, 'a-fifo.img');
  execFileSync('mkfifo', [fifo]);
  oneLine(await run(CRIT, ['show', fifo], { timeout: 10000 }), /a-fifo\.img: not a regular file/);
  oneLine(await run(CRIT, ['decode', '-i', fifo], { timeout: 10000 }), /a-fifo\.img: not a regular file/);
  oneLine(await run(CRIT, ['info', tmp], { timeout: 10000 }), /is a directory/);
});

test('crit does not load NODE_EXTRA_CA_CERTS at start, and hands it and GLIBC_TUNABLES on as they were', async () => {
  const img = join(tmp, 'ca-fs.img');
  writeFileSync(img, encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 1 }] }));
  const seen = join(tmp, 'ca-seen');
  const editor = join(tmp, 'ca-editor.sh');
  writeFileSync(editor, `#!/bin/sh\necho "NODE=\${NODE_EXTRA_CA_CERTS-unset} CKPT=\${CKPT_EXTRA_CA_CERTS-unset} GLIBC=\${GLIBC_TUNABLES-unset} \${CKPT_SET_GLIBC_TUNABLES-unset}" > ${seen}\n`, { mode: 0o755 });
  // a bundle Node cannot load: it would print a warning at start if it tried
  const ca = join(tmp, 'no-such-bundle.pem');
  // unset (spawn leaves out undefined values): the launcher tunes malloc for crit alone
  const env = { NODE_EXTRA_CA_CERTS: ca, EDITOR: editor, GLIBC_TUNABLES: undefined };
  const r = await run(CRIT, ['edit', img], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(readFileSync(seen, 'utf8'), `NODE=${ca} CKPT=unset GLIBC=unset unset\n`);
  // a user's own tuning is left alone
  const r2 = await run(CRIT, ['edit', img], { env: { ...env, GLIBC_TUNABLES: 'glibc.malloc.check=0' } });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(readFileSync(seen, 'utf8'), `NODE=${ca} CKPT=unset GLIBC=glibc.malloc.check=0 unset\n`);
});

test('crit --version names our version and the image format it reads and writes', async () => {
  const r = await run(CRIT, ['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^\d+\.\d+\.\d+ \(CRIU 4\.2 image format\)\n$/);
});
