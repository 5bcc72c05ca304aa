// crit x beyond upstream: sk, mem (hexdump, search), ps --cmdline/--env,
// --json on every explorer, colour rules. Corpus cases and a live dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CORPUS, CRIT, corpusOrSkip } from './lib/corpus.mjs';
import { dump, liveOrSkip, startCounter, stop, workDir } from './lib/crit-live.mjs';
import { pool, run } from './lib/run.mjs';
import { colorWanted } from '../packages/crit/dist/render/style.js';
import { searchMemory } from '../packages/crit/dist/explore/search.js';

const crit = (...args) => run(CRIT, args, { env: { NO_COLOR: '1' } });
const json = async (...args) => {
  const r = await crit(...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString());
};

test('x sk: inet listeners, connections, queues; unix names and queues', async (t) => {
  if (!corpusOrSkip(t)) return;
  const inet = await json('x', join(CORPUS, 'inet'), 'sk', '--json');
  const find = (local, remote) => inet.find((s) => s.local === local && (remote === undefined || s.remote === remote));
  assert.deepEqual(
    (({ kind, type, proto, state, holders }) => ({ kind, type, proto, state, holders }))(find('127.0.0.1:47101', '*')),
    { kind: 'inet', type: 'STREAM', proto: 'TCP', state: 'LISTEN', holders: ['7807:3'] });
  assert.equal(find('[::1]:47103', '*').kind, 'inet6');
  assert.equal(find('127.0.0.1:47102').proto, 'UDP');
  assert.equal(inet.filter((s) => s.state === 'ESTABLISHED' && s.proto === 'TCP').length, 6);
  assert.deepEqual(inet.filter((s) => s.recvQ).map((s) => s.recvQ).sort(), [1000, 2000]);
  const unix = await json('x', join(CORPUS, 'unix-sockets'), 'sk', '--json');
  assert.ok(unix.some((s) => s.local === '@corpus-abstract' && s.state === 'LISTEN'));
  assert.ok(unix.some((s) => s.local.endsWith('/dgram.sock') && s.type === 'DGRAM' && s.recvQ > 0));
  const text = (await crit('x', join(CORPUS, 'inet'), 'sk')).stdout.toString();
  assert.match(text, /PID:FD.*KIND.*TYPE.*STATE.*LOCAL.*REMOTE.*RECV-Q.*SEND-Q/);
  assert.match(text, /^7807:3 +inet +STREAM\/TCP +LISTEN +127\.0\.0\.1:47101 /m); // plain columns in a pipe
  assert.doesNotMatch(text, /\x1b\[/);
  const none = await crit('x', join(CORPUS, 'loop-static'), 'sk');
  assert.match(none.stdout.toString(), /no sockets/);
});

test('x ps --cmdline --env: argv and environment from the dumped memory', async (t) => {
  if (!corpusOrSkip(t)) return;
  const roots = await json('x', join(CORPUS, 'tree-pipes'), 'ps', '--cmdline', '--env', '--json');
  const all = [];
  const walk = (p) => { all.push(p); p.children.forEach(walk); };
  roots.forEach(walk);
  assert.equal(all.length, 3);
  for (const p of all) {
    assert.deepEqual(p.argv, ['/tmp/corpus-src/tree-pipes/prog']);
    assert.deepEqual(p.env, ['PATH=/usr/bin:/bin', 'HOME=/tmp/lab', 'LANG=C.UTF-8', 'TERM=xterm']);
    assert.equal(p.state, 'alive');
  }
  const text = (await crit('x', join(CORPUS, 'files'), 'ps', '--cmdline')).stdout.toString();
  assert.match(text, /CMDLINE/);
  assert.match(text, /\/tmp\/corpus-src\/files\/prog \/tmp\/corpus-run\/files/);
  // without the new options, upstream's text is unchanged
  const plain = (await crit('x', join(CORPUS, 'tree-pipes'), 'ps')).stdout.toString();
  assert.match(plain, /^    PID   PGID    SID   COMM\n/);
});

test('--json on every explorer parses, for every corpus case', async (t) => {
  if (!corpusOrSkip(t)) return;
  const { cases } = await import('./lib/corpus.mjs');
  await pool(cases().flatMap((c) => ['ps', 'fds', 'mems', 'rss', 'sk'].map((w) => [c, w])), 4, async ([c, w]) => {
    const r = await crit('x', join(CORPUS, c), w, '--json');
    assert.equal(r.code, 0, `${c} ${w}: ${r.stderr}`);
    assert.ok(Array.isArray(JSON.parse(r.stdout.toString())), `${c} ${w}`);
  });
});

test('x mem --addr/--len prints what hexdump -C prints for the same bytes', async (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = join(CORPUS, 'loop-dynamic');
  // pages-1.img starts with the first present run (vaddr 0x55a6c2e4d000, 1 page), then the next (0x55a6c2e4f000, 2 pages)
  const base = 0x55a6c2e4f000n;
  const ours = (await crit('x', dir, 'mem', '--pid', '6592', '--addr', '0x' + (base + 0x100n).toString(16), '--len', '5000')).stdout.toString();
  const theirs = execFileSync('hexdump', ['-C', '-s', String(4096 + 0x100), '-n', '5000', join(dir, 'pages-1.img')], { encoding: 'utf8' });
  const shifted = theirs.replace(/^([0-9a-f]{8,})/gm, (h) => (BigInt('0x' + h) - 4096n + base).toString(16).padStart(8, '0'));
  assert.equal(ours, shifted);
  const missing = await crit('x', dir, 'mem', '--pid', '6592', '--addr', '0x1000', '--len', '64');
  assert.equal(missing.stdout.toString(), '00001000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00001040\n');
  assert.match(missing.stderr, /64 of 64 bytes are not in the dump/);
  const bad = await crit('x', dir, 'mem', '--pid', '1');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no task 1 in this dump \(tasks in this dump: 6592\)/);
  const page = await json('x', dir, 'mem', '--pid', '6592', '--addr', '0x55a6c2e4f000', '--len', '16', '--json');
  assert.equal(page.data.length, 32);
});

test('x mem --search/--regex: streaming, with context, matches across piece boundaries once', async (t) => {
  // a fake page source: three contiguous pieces and a separate one
  const mem = Buffer.alloc(3 * 64, '.');
  mem.write('xxneedlexx', 60); // crosses the first boundary
  mem.write('needle', 128 - 3); // crosses the second
  const far = Buffer.from('....needle....');
  const pages = {
    *chunks() {
      for (let i = 0; i < 3; i++) yield { vaddr: 0x1000n + BigInt(i * 64), data: mem.subarray(i * 64, i * 64 + 64) };
      yield { vaddr: 0x9000n, data: far };
    },
  };
  const found = [...searchMemory(pages, { literal: 'needle', context: 2 })];
  assert.deepEqual(found.map((m) => m.addr), [0x1000n + 62n, 0x1000n + 125n, 0x9004n]);
  assert.deepEqual(found.map((m) => `${m.before}[${m.match}]${m.after}`), ['xx[needle]xx', '..[needle]..', '..[needle]..']);
  const re = [...searchMemory(pages, { regex: 'ne+dl?e', context: 0 })];
  assert.deepEqual(re.map((m) => m.addr), found.map((m) => m.addr));

  if (!corpusOrSkip(t)) return;
  const dir = join(CORPUS, 'loop-dynamic');
  const r = await crit('x', dir, 'mem', '--pid', '6592', '--search', 'pattern=', '--json');
  const hits = JSON.parse(r.stdout.toString());
  assert.ok(hits.length >= 1);
  assert.ok(hits.every((h) => h.match === 'pattern='));
  const text = await crit('x', dir, 'mem', '--pid', '6592', '--regex', 'tick [0-9]+ pattern=ok', '-c', '4');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout.toString(), /^0x[0-9a-f]+  \(0x[0-9a-f]+-0x[0-9a-f]+ rw-.*\)\n {4}.*tick \d+ pattern=ok/m);
  assert.match(text.stderr, /\d+ match(es)? in the memory of 6592/);
  const badRe = await crit('x', dir, 'mem', '--pid', '6592', '--regex', '(');
  assert.equal(badRe.code, 1);
  assert.match(badRe.stderr, /--regex: /);
});

test('colour only on a terminal, never with NO_COLOR or --no-color', () => {
  const saved = process.env.NO_COLOR;
  try {
    delete process.env.NO_COLOR;
    assert.equal(colorWanted({}, { isTTY: true }), true);
    assert.equal(colorWanted({}, { isTTY: false }), false);
    assert.equal(colorWanted({ color: false }, { isTTY: true }), false);
    process.env.NO_COLOR = '1';
    assert.equal(colorWanted({}, { isTTY: true }), false);
  } finally {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  }
});

test('help has examples; completion script', async () => {
  for (const cmd of ['diff', 'set', 'edit', 'x']) {
    const r = await crit(cmd, '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout.toString(), /Examples:/, cmd);
  }
  const c = await crit('completion');
  assert.equal(c.code, 0);
  assert.match(c.stdout.toString(), /crit --get-yargs-completions/);
});

test('live dump: x ps --cmdline shows argv, x mem --search finds the heap string', async (t) => {
  if (!liveOrSkip(t)) return;
  const dir = workDir('crit-x-live');
  let h;
  try {
    h = await startCounter(dir, 'secret-7731');
    const img = dump(h.pid, join(dir, 'img'));
    const roots = await json('x', img, 'ps', '--cmdline', '--json');
    assert.equal(roots[0].pid, h.pid);
    assert.deepEqual(roots[0].argv, [h.prog, 'secret-7731']);
    assert.deepEqual(roots[0].children.map((k) => k.pid), [h.child]);
    const text = (await crit('x', img, 'ps', '--cmdline')).stdout.toString();
    assert.ok(text.includes(`${h.prog} secret-7731`), text);
    const hits = await json('x', img, 'mem', '--pid', String(h.pid), '--search', 'crit-needle-secret-7731', '--context', '8', '--json');
    assert.ok(hits.some((m) => BigInt(m.addr) === h.needle), `the heap copy at 0x${h.needle.toString(16)}: ${JSON.stringify(hits)}`);
    const hex = (await crit('x', img, 'mem', '--pid', String(h.pid), '--addr', '0x' + h.needle.toString(16), '--len', '32')).stdout.toString();
    assert.match(hex, /\|crit-needle-secr\|\n.*\|et-7731\.+\|/);
  } finally {
    stop(h, dir);
  }
});
