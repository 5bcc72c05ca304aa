// crit diff on the corpus: dirs and files, exit codes, --json, --ignore, --only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cases, CORPUS, CRIT, corpusOrSkip } from './lib/corpus.mjs';
import { pool, run } from './lib/run.mjs';
import { IgnoreRules } from '../packages/crit/dist/diff/ignore.js';
import { splitPath } from '../packages/crit/dist/diff/render.js';

const crit = (...args) => run(CRIT, args, { env: { NO_COLOR: '1' } });
const json = (r) => JSON.parse(r.stdout.toString());

function copyCase(name) {
  const dir = mkdtempSync(join(tmpdir(), `crit-diff-${name}-`));
  cpSync(join(CORPUS, name), dir, { recursive: true });
  return dir;
}

test('every corpus dump against itself: exit 0, "no differences"', async (t) => {
  if (!corpusOrSkip(t)) return;
  await pool(cases(), 4, async (c) => {
    const r = await crit('diff', join(CORPUS, c), join(CORPUS, c));
    assert.equal(r.code, 0, `${c}: ${r.stderr}${r.stdout}`);
    assert.match(r.stdout.toString(), /no differences/, c);
  });
});

test('two different programs: exit 1, tree and memory differences; --json parses and is stable', async (t) => {
  if (!corpusOrSkip(t)) return;
  const a = join(CORPUS, 'loop-static');
  const b = join(CORPUS, 'loop-dynamic');
  const r1 = await crit('diff', a, b, '--json');
  const r2 = await crit('diff', a, b, '--json');
  assert.equal(r1.code, 1, r1.stderr);
  assert.equal(r1.stdout.toString(), r2.stdout.toString(), 'same bytes on every run');
  const d = json(r1);
  assert.equal(d.schema, 'crit-diff/1');
  assert.equal(d.kind, 'dirs');
  assert.equal(d.equal, false);
  assert.equal(d.summary.total, d.changes.length);
  // different pids: one task gone, one new
  assert.deepEqual(d.changes.filter((c) => c.section === 'tree').map((c) => c.op).sort(), ['added', 'removed']);
  for (const c of d.changes) assert.ok(['section', 'path', 'op'].every((k) => typeof c[k] === 'string'), JSON.stringify(c));
  // matched by place in the tree, the two loops are compared field by field
  const byPlace = json(await crit('diff', a, b, '--json', '--ignore', 'pids'));
  assert.ok(!byPlace.changes.some((c) => c.section === 'tree' && c.op !== 'changed'));
  assert.ok(byPlace.changes.some((c) => c.section === 'mems'));
  assert.ok(byPlace.changes.some((c) => c.section === 'pages'));
  const only = json(await crit('diff', a, b, '--json', '--ignore', 'pids', '--only', 'fds'));
  assert.deepEqual(Object.keys(only.summary.bySection), only.equal ? [] : ['fds']);
});

test('a changed fd position appears at its path, in the tree text and in JSON', async (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = copyCase('files');
  try {
    // files.img entry 5 is ro.txt (pos 12345), held by fd 3 of task 7132 and by its dup, fd 11
    const s = await crit('set', join(dir, 'files.img'), 'entries[5].reg.pos', '100');
    assert.equal(s.code, 0, s.stderr);
    const r = await crit('diff', join(CORPUS, 'files'), dir, '--json');
    assert.equal(r.code, 1);
    assert.deepEqual(json(r).changes.map((c) => [c.section, c.path, c.a, c.b]), [
      ['fds', 'tasks[7132].fds[3].pos', 12345, 100], ['fds', 'tasks[7132].fds[11].pos', 12345, 100]]);
    const text = (await crit('diff', join(CORPUS, 'files'), dir)).stdout.toString();
    assert.match(text, /tasks\[7132\]  prog\n  fds\[3\]  \/tmp\/corpus-run\/files\/tmpdir\.\w+\/ro\.txt\n    ~ pos: 12345 → 100\n/);
    assert.match(text, /2 differences \(fds 2\)/);
    assert.equal((await crit('diff', join(CORPUS, 'files'), dir, '--ignore', 'pos')).code, 0);
    assert.equal((await crit('diff', join(CORPUS, 'files'), dir, '--ignore', 'tasks[*].fds[3]')).code, 1);
    assert.equal((await crit('diff', join(CORPUS, 'files'), dir, '--ignore', 'tasks[*].fds[3]', '--ignore', 'tasks[7132].fds[11].pos')).code, 0);
    assert.equal((await crit('diff', join(CORPUS, 'files'), dir, '--only', 'pages', '--only', 'tree')).code, 0);
    // the same change seen in the two files
    const f = await crit('diff', join(CORPUS, 'files/files.img'), join(dir, 'files.img'), '--json');
    assert.equal(f.code, 1);
    assert.deepEqual(json(f).changes.map((c) => [c.path, c.a, c.b]), [['entries[5].reg.pos', 12345, 100]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a removed task and a removed socket appear with their paths', async (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = copyCase('inet');
  try {
    // drop the child (7812) from the tree, and the listening socket's fd 3 from the parent's fd table
    const pstree = JSON.parse((await crit('decode', '-i', join(dir, 'pstree.img'))).stdout);
    pstree.entries = pstree.entries.filter((e) => e.pid !== 7812);
    assert.equal((await run(CRIT, ['encode', '-o', join(dir, 'pstree.img')], { input: JSON.stringify(pstree) })).code, 0);
    const fdinfo = JSON.parse((await crit('decode', '-i', join(dir, 'fdinfo-2.img'))).stdout);
    fdinfo.entries = fdinfo.entries.filter((e) => e.fd !== 3);
    assert.equal((await run(CRIT, ['encode', '-o', join(dir, 'fdinfo-2.img')], { input: JSON.stringify(fdinfo) })).code, 0);
    const d = json(await crit('diff', join(CORPUS, 'inet'), dir, '--json'));
    const paths = d.changes.map((c) => `${c.op} ${c.section} ${c.path}`);
    assert.ok(paths.includes('removed tree tasks[7812]'), paths.join('\n'));
    assert.ok(paths.includes('removed sockets tasks[7807].sockets[3]'), paths.join('\n'));
    assert.ok(paths.includes('removed fds tasks[7807].fds[3]'), paths.join('\n'));
    const sock = d.changes.find((c) => c.path === 'tasks[7807].sockets[3]').a;
    assert.deepEqual([sock.kind, sock.state, sock.local], ['inet', 'LISTEN', '127.0.0.1:47101']);
    const text = (await crit('diff', join(CORPUS, 'inet'), dir, '--only', 'tree')).stdout.toString();
    assert.match(text, /^- tasks\[7812\]: /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors exit 2: missing path, dir against file, unknown section', async (t) => {
  if (!corpusOrSkip(t)) return;
  const missing = await crit('diff', join(CORPUS, 'inet'), '/nonexistent/dump');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nonexistent/);
  const mixed = await crit('diff', join(CORPUS, 'inet'), join(CORPUS, 'inet/files.img'));
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /directory.*file|file.*directory/);
  assert.equal((await crit('diff', join(CORPUS, 'inet'), join(CORPUS, 'inet'), '--only', 'nope')).code, 2);
  const raw = await crit('diff', join(CORPUS, 'inet/pages-1.img'), join(CORPUS, 'inet/pages-1.img'));
  assert.equal(raw.code, 2);
});

test('--ignore patterns: sections, pids, timestamps, field names, JSON path globs', () => {
  const r = new IgnoreRules(['pids', 'timestamps', 'pos', 'tasks[*].vmas[0x1000].prot', 'stats', '**.regs']);
  assert.equal(r.pids, true);
  assert.equal(r.section('stats'), true);
  assert.equal(r.section('fds'), false);
  assert.equal(r.path('tasks[1].fds[3].pos'), true);
  assert.equal(r.path('tasks[1].fds[3].flags'), false);
  assert.equal(r.path('tasks[1].ppid'), true);
  assert.equal(r.path('stats.dump.frozen_time'), true);
  assert.equal(r.path('tasks[7].vmas[0x1000].prot'), true);
  assert.equal(r.path('tasks[7].vmas[0x2000].prot'), false);
  assert.equal(r.path('tasks[7].regs[7].ip'), true);
  assert.deepEqual(splitPath('tasks[1].fds[3].pos'), ['tasks[1]', 'fds[3]', 'pos']);
  assert.deepEqual(splitPath('entries[0]["a.b"][2]'), ['entries[0]', '["a.b"]', '[2]']);
});
