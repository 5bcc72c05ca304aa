// One behaviour for all of crit's explorers: --pid everywhere, options that do
// not apply refused, tables that fit a terminal and are plain columns in a
// pipe (the upstream-compatible texts stay byte for byte upstream's:
// crit-corpus.test.mjs), image text escaped in human output, sk's states and
// unix peers; and
// encode refusing unknown fields, diff --ignore refusing unknown rules, error
// messages that name the user's files (not temporaries) in one plain line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeImage, PE, VMA } from '@ckpt/images';
import { CORPUS, CRIT, corpusOrSkip } from './lib/corpus.mjs';
import { pool, run } from './lib/run.mjs';
import { safeJson, safeText } from '../packages/crit/dist/render/escape.js';
import { fitWidths, tableText, wrapLine } from '../packages/crit/dist/render/table.js';
import { knownFields } from '../packages/crit/dist/diff/ignore.js';
import { X_OPTIONS } from '../packages/crit/dist/explore/options.js';

const tmp = mkdtempSync(join(tmpdir(), 'crit-explore-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const crit = (...args) => run(CRIT, args, { env: { NO_COLOR: '1' } });
const ok = async (...args) => {
  const r = await crit(...args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
};
const json = async (...args) => JSON.parse(await ok(...args));
/** A failure: exit status, one line on stderr matching `pattern`, nothing on stdout. */
async function refused(args, code, pattern) {
  const r = await crit(...args);
  assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr.split('\n')[0], pattern, args.join(' '));
  assert.equal(r.stdout.length, 0, args.join(' '));
  return r.stderr;
}

// A dump written here: task 10 (threads 10, 13) with a child 11 and a zombie
// 12; names, paths and a socket name that carry terminal escape sequences; two
// shared anonymous mappings numbered across tasks.
const ESC_COMM = 'evil\x1b]0;pwned\x07\x1b[2J';
const ESC_PATH = '/tmp/a\x1b[31mred\nsecond-line\u202egnp.exe\x9b1m';
const ESC_SOCK = '/tmp/s\x1b[5mock';
const ESC_ARG = '--title=\x1b]2;owned\x07';
const ESC_ENV = 'PS1=\x1b[8m';
const hostile = join(tmp, 'hostile');
{
  mkdirSync(hostile);
  const put = (name, doc) => writeFileSync(join(hostile, name), encodeImage(doc));
  const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
  const core = (comm, state) => ({ magic: 'CORE', entries: [{ mtype: 'X86_64', tc: { task_state: state, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0, comm } }] });
  const vma = (start, status, shmid) => ({ start, end: start + 0x1000, pgoff: 0, shmid, prot: 3, flags: 1, status: VMA.VMA_AREA_REGULAR | status, fd: -1 });
  const mm = (vmas, args = [0, 0, 0, 0]) => ({
    magic: 'MM',
    entries: [{
      mm_start_code: 0, mm_end_code: 0, mm_start_data: 0, mm_end_data: 0, mm_start_stack: 0, mm_start_brk: 0, mm_brk: 0,
      mm_arg_start: args[0], mm_arg_end: args[1], mm_env_start: args[2], mm_env_end: args[3], exe_file_id: 1, vmas,
    }],
  });
  put('pstree.img', { magic: 'PSTREE', entries: [
    { pid: 10, ppid: 0, pgid: 10, sid: 10, threads: [10, 13] }, { pid: 11, ppid: 10, pgid: 10, sid: 10, threads: [11] }, { pid: 12, ppid: 10, pgid: 10, sid: 10 },
  ] });
  put('core-10.img', core(ESC_COMM, 1));
  put('core-13.img', core(ESC_COMM, 1));
  put('core-11.img', core('kid', 1));
  put('core-12.img', core('zombie', 6));
  for (const pid of [10, 11]) {
    put(`ids-${pid}.img`, { magic: 'IDS', entries: [{ vm_id: pid, files_id: pid, fs_id: pid, sighand_id: pid }] });
    put(`fs-${pid}.img`, { magic: 'FS', entries: [{ cwd_id: 2, root_id: 1 }] });
  }
  put('fdinfo-10.img', { magic: 'FDINFO', entries: [{ id: 2, flags: 0, type: 'REG', fd: 0 }, { id: 3, flags: 0, type: 'UNIXSK', fd: 3 }] });
  put('fdinfo-11.img', { magic: 'FDINFO', entries: [{ id: 1, flags: 0, type: 'REG', fd: 0 }, { id: 4, flags: 0, type: 'UNIXSK', fd: 4 }] });
  const usk = (id, ino, peer, name) => ({
    type: 'UNIXSK', id, usk: { id, ino, type: 1, state: 1, flags: 0, uflags: 0, backlog: 0, peer, fown, opts: { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0, so_snd_tmo_usec: 0, so_rcv_tmo_sec: 0, so_rcv_tmo_usec: 0 }, name },
  });
  put('files.img', { magic: 'FILES', entries: [
    { type: 'REG', id: 1, reg: { id: 1, flags: 0, pos: 0, fown, name: '/bin/prog' } },
    { type: 'REG', id: 2, reg: { id: 2, flags: 0, pos: 0, fown, name: ESC_PATH } },
    usk(3, 900, 901, Buffer.from(ESC_SOCK)),
    usk(4, 901, 900, Buffer.alloc(0)),
  ] });
  // task 10's argv and environment, in its one dumped page at 0x30000
  const page = Buffer.alloc(4096);
  const argv = Buffer.from(`prog\0${ESC_ARG}\0`);
  const env = Buffer.from(`${ESC_ENV}\0`);
  argv.copy(page, 0);
  env.copy(page, 0x100);
  put('mm-10.img', mm([vma(0x10000, VMA.VMA_ANON_SHARED, 500), vma(0x20000, VMA.VMA_FILE_PRIVATE, 2), vma(0x30000, VMA.VMA_ANON_PRIVATE, 0)],
    [0x30000, 0x30000 + argv.length, 0x30100, 0x30100 + env.length]));
  put('mm-11.img', mm([vma(0x10000, VMA.VMA_ANON_SHARED, 600), vma(0x20000, VMA.VMA_ANON_SHARED, 500)]));
  put('pagemap-10.img', { magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 0x30000, compat_nr_pages: 0, flags: PE.PRESENT, nr_pages: 1 }] });
  writeFileSync(join(hostile, 'pages-1.img'), page);
  put('pagemap-11.img', { magic: 'PAGEMAP', entries: [{ pages_id: 2 }] });
  writeFileSync(join(hostile, 'pages-2.img'), '');
}

const ESC = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e\u2028]/;

test('--pid works for every explorer: the task (ps: its subtree; sk: its sockets), as the full listing shows it', async (t) => {
  const full = await ok('x', hostile, 'mems');
  const mine = await ok('x', hostile, 'mems', '--pid', '11');
  assert.ok(full.endsWith(mine), `x mems --pid 11 is task 11's part of the full listing (same shmem numbers):\n${mine}\n---\n${full}`);
  assert.match(mine, /^11\n(.*\n)*.*shmem\[2\]\n.*shmem\[1\]\n$/);
  assert.equal(await ok('x', hostile, 'ps', '--pid', '11'), '    PID   PGID    SID   COMM\n     11     10     10   kid\n');
  assert.deepEqual((await json('x', hostile, 'fds', '--pid', '11', '--json')).map((x) => x.pid), [11]);
  assert.deepEqual((await json('x', hostile, 'sk', '--pid', '11', '--json')).map((s) => s.holders), [['11:4']]);
  if (!corpusOrSkip(t)) return;
  const inet = join(CORPUS, 'inet');
  for (const what of ['fds', 'mems', 'rss']) {
    const all = readFileSync(join(inet, 'ref', `x-${what}.txt`), 'utf8');
    const part = all.slice(all.indexOf('7812\n'));
    assert.equal(await ok('x', inet, what, '--pid', '7812'), part, what);
    assert.equal(await ok('x', inet, what, '--pid', '7807'), all.slice(0, all.indexOf('7812\n')), what);
    assert.deepEqual((await json('x', inet, what, '--pid', '7812', '--json')).map((x) => x.pid), [7812], what);
  }
  const tree = await json('x', inet, 'ps', '--pid', '7812', '--json');
  assert.deepEqual(tree.map((p) => [p.pid, p.children.length]), [[7812, 0]]);
  assert.equal(await ok('x', inet, 'ps', '--pid', '7812'), '    PID   PGID    SID   COMM\n   7812   7807   7807   inet-client\n');
  const sk = await json('x', inet, 'sk', '--pid', '7812', '--json');
  assert.ok(sk.length > 0 && sk.every((s) => s.holders.some((h) => h.startsWith('7812:'))));
  assert.ok((await json('x', inet, 'sk', '--json')).length > sk.length);
  const mem = await ok('x', join(CORPUS, 'loop-dynamic'), 'mem', '--pid', '6592', '--addr', '0x1000', '--len', '16');
  assert.match(mem, /^00001000  00 00/);
});

test('--pid of a task not in the dump, of a thread, of a zombie: refused, naming what there is', async () => {
  for (const what of ['ps', 'fds', 'mems', 'rss', 'sk', 'mem']) {
    await refused(['x', hostile, what, '--pid', '99'], 1, /^crit: no task 99 in this dump \(tasks in this dump: 10, 11, 12\)$/);
    await refused(['x', hostile, what, '--pid', '13'], 1, /^crit: 13 is a thread of task 10: give --pid 10$/);
  }
  await refused(['x', hostile, 'fds', '--pid', '12'], 1, /^crit: task 12: not alive when dumped: no fds$/);
  await refused(['x', hostile, 'mems', '--pid', '12', '--json'], 1, /^crit: task 12: not alive when dumped: no memory$/);
  await refused(['x', hostile, 'mem', '--pid', '12'], 1, /^crit: task 12: not alive when dumped: no memory$/);
  await refused(['x', hostile, 'rss', '--pid', '12'], 1, /^crit: task 12: not alive when dumped: no memory$/);
  await refused(['x', hostile, 'ps', '--pid', 'abc'], 2, /^crit: error: --pid: expected a task id/);
  await refused(['x', hostile, 'ps', '--pid', '0'], 2, /^crit: error: --pid: expected a task id/);
});

test('an option that does not apply to the explorer is refused, never ignored', async () => {
  const values = { pid: '10', addr: '0x1000', len: '16', search: 'x', regex: 'x', context: '4', 'page-size': '4096' };
  const cases = [];
  const all = [...new Set(Object.values(X_OPTIONS).flat())];
  for (const [what, opts] of Object.entries(X_OPTIONS)) {
    for (const opt of all.filter((o) => !opts.includes(o))) {
      const arg = ['cmdline', 'env'].includes(opt) ? [`--${opt}`] : [`--${opt}`, values[opt]];
      cases.push([['x', hostile, what, ...(what === 'mem' ? ['--pid', '10'] : []), ...arg], new RegExp(`--${opt} does not apply to x ${what} \\(it is for x `)]);
    }
  }
  cases.push([['x', hostile, 'ps', '-s', 'foo'], /--search does not apply to x ps \(it is for x mem\)/]);
  cases.push([['x', hostile, 'ps', '--page-size', '4096'], /--page-size applies to x ps only with --cmdline or --env/]);
  cases.push([['x', hostile, 'rss', '--page-size', '1000'], /--page-size: expected a power of two/]);
  cases.push([['x', hostile, 'mem', '--pid', '10', '--len', '16'], /--len needs --addr/]);
  cases.push([['x', hostile, 'mem', '--pid', '10', '--context', '4'], /--context applies to --search and --regex/]);
  cases.push([['x', hostile, 'mem', '--pid', '10', '--search', 'a', '--addr', '0x10'], /give one or the other/]);
  cases.push([['x', hostile, 'mem', '--pid', '10', '--search', 'a', '--regex', 'b'], /not both/]);
  cases.push([['x', hostile, 'mem', '--pid', '10', '--search', 'a', '-c', '-1'], /--context: expected a number of bytes/]);
  cases.push([['x', hostile, 'mem'], /x mem needs --pid N/]);
  assert.ok(cases.length > 20);
  await pool(cases, 4, async ([args, pattern]) => {
    const err = await refused(args, 2, new RegExp(`^crit: error: .*${pattern.source}`));
    assert.match(err, /Run 'crit --help' for usage\.\n$/);
  });
  // what does apply is taken, --no-color everywhere
  for (const what of ['ps', 'fds', 'mems', 'sk']) await ok('x', hostile, what, '--no-color', '--pid', '10');
});

test('tables: plain columns in a pipe; on a terminal, box tables no wider than it', async (t) => {
  const plain = await ok('x', hostile, 'sk');
  assert.doesNotMatch(plain, /[│┌└─]/);
  const [head, ...rows] = plain.trimEnd().split('\n');
  assert.match(head, /^PID:FD +KIND +TYPE +STATE +LOCAL +REMOTE +RECV-Q +SEND-Q$/);
  assert.equal(rows.length, 2);
  for (const r of rows) assert.equal(r.split(/ {2,}/).length, 8, r);
  assert.doesNotMatch(await ok('x', hostile, 'ps', '--cmdline'), /[│┌└─]/);

  // the layout itself, at several widths: every line fits, no text is lost
  const cells = [['1234:5,1234:6', 'unix', 'ESTABLISHED', '/tmp/a/very/long/path/to/a/socket/that/goes/on.sock', ['A=1', 'PATH=/usr/local/bin:/usr/bin:/bin'], 7]];
  const style = { bold: (s) => s, dim: (s) => s };
  const heads = ['PID:FD', 'KIND', 'STATE', 'LOCAL', 'ENV', 'N'];
  // no character lost or added, whatever the layout
  const chars = (x) => [...x.replace(/[\s│┌┐└┘├┤┬┴┼─]/g, '')].sort().join('');
  const want = chars(heads.join('') + cells[0].flat().join(''));
  const layouts = [];
  for (const width of [30, 40, 50, 60, 200]) {
    const text = tableText(style, heads, cells, [], { width });
    for (const line of text.trimEnd().split('\n')) assert.ok([...line].length <= width, `${width}: ${line}`);
    assert.equal(chars(text), want, `${width}:\n${text}`);
    layouts.push(text.startsWith('┌') ? 'box' : /^PID:FD +KIND/.test(text) ? 'columns' : 'records');
  }
  assert.deepEqual(layouts, ['records', 'records', 'columns', 'box', 'box']);
  // colour (a dim placeholder) survives; text from the image does not get to style anything
  const dim = { bold: (x) => x, dim: (x) => `\x1b[2m${x}\x1b[22m` };
  for (const layout of [{ width: 80 }, {}]) {
    const text = tableText(dim, ['A', 'B'], [[{ dim: '(none)' }, 'x\x1b[2my']], [], layout);
    assert.ok(text.includes('\x1b[2m(none)\x1b[22m') && text.includes('x\\x1b[2my'), JSON.stringify(text));
  }
  assert.deepEqual(wrapLine('/usr/lib/x86_64-linux-gnu/libc.so.6', 16), ['/usr/lib/', 'x86_64-linux-', 'gnu/libc.so.6']);
  assert.deepEqual(fitWidths([10, 50], [10, 16], 40), [10, 23]); // 1 + (10 + 3) + (23 + 3) = 40
  assert.equal(fitWidths([10, 50], [10, 16], 20), undefined); // the floors do not fit
  assert.deepEqual(fitWidths([10, 50], [10, 16], 40, 2), [10, 28]); // without borders: 2 columns of overhead

  // a real terminal (script(1) gives crit a pseudo-terminal of the stated width)
  if (!existsSync('/usr/bin/script')) {
    if (process.env.CI) throw new Error('script(1) (util-linux) is needed to test crit on a terminal');
    t.skip('script(1) not installed: no pseudo-terminal test');
    return;
  }
  if (!corpusOrSkip(t)) return;
  for (const [cols, first] of [[60, /^PID:FD  7346:3,7351:3$/], [80, /^PID:FD +KIND +TYPE/], [100, /^┌─/]]) {
    const r = spawnSync('script', ['-qec', `stty cols ${cols}; ${CRIT} x ${join(CORPUS, 'unix-sockets')} sk`, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.replace(/\r/g, '').trimEnd().split('\n');
    assert.match(lines[0], first, `${cols} columns: a box table if it fits, else columns without borders, else records`);
    for (const l of lines) assert.ok([...l].length <= cols, `${cols} columns: ${l}`);
    assert.ok(r.stdout.includes('@corpus-'), 'the abstract name is shown');
    assert.equal(lines.filter((l) => l.includes('LISTEN')).length, 2);
  }
});

test('text from an image is escaped in human output; JSON keeps it exactly', async () => {
  const outputs = await Promise.all([['ps'], ['fds'], ['mems'], ['sk'], ['ps', '--cmdline'], ['fds', '--pid', '10']].map((a) => ok('x', hostile, ...a)));
  for (const o of outputs) assert.doesNotMatch(o, ESC, o);
  const [ps, fds, mems, sk, cmdline] = outputs;
  assert.ok(cmdline.includes("prog '--title=\\x1b]2;owned\\x07'"), cmdline);
  const envs = await ok('x', hostile, 'ps', '--env');
  assert.doesNotMatch(envs, ESC);
  assert.ok(envs.includes('PS1=\\x1b[8m'), envs);
  assert.deepEqual((await json('x', hostile, 'ps', '--cmdline', '--env', '--json'))[0].argv, ['prog', ESC_ARG]);
  assert.ok(ps.includes('evil\\x1b]0;pwned\\x07\\x1b[2J'), ps);
  assert.ok(fds.includes('\t      0: /tmp/a\\x1b[31mred\\x0asecond-line\\u202egnp.exe\\u009b1m\n'), fds);
  assert.ok(mems.includes('/tmp/a\\x1b[31mred'), mems);
  assert.ok(sk.includes('/tmp/s\\x1b[5mock'), sk);
  // JSON: the same strings, losslessly, and still nothing a terminal acts on
  const raw = await ok('x', hostile, 'fds', '--json');
  assert.doesNotMatch(raw, ESC);
  assert.equal(JSON.parse(raw)[0].fds[0].desc, ESC_PATH);
  assert.equal((await json('x', hostile, 'ps', '--json'))[0].comm, ESC_COMM);
  // crit diff and crit set report such text escaped too (labels, paths, values)
  const other = join(tmp, 'hostile-2');
  mkdirSync(other);
  for (const f of readdirSync(hostile)) writeFileSync(join(other, f), readFileSync(join(hostile, f)));
  writeFileSync(join(other, 'fs-10.img'), encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 1 }] }));
  const d = await crit('diff', hostile, other);
  assert.equal(d.code, 1, d.stderr);
  const dt = d.stdout.toString();
  assert.doesNotMatch(dt, ESC, dt);
  assert.match(dt, /tasks\[10\]  evil\\x1b\]0;pwned/);
  assert.ok(dt.includes('\\u202egnp.exe\\u009b1m" → "/bin/prog"'), dt);
  const set = await crit('set', join(other, 'files.img'), 'entries[1].reg.name', '"/tmp/x\u2028y"', '-n');
  assert.equal(set.code, 0, set.stderr);
  assert.doesNotMatch(set.stdout.toString(), ESC);
  assert.match(set.stdout.toString(), /→ "\/tmp\/x\\u2028y"/);
  // an error naming a hostile file
  const bad = join(tmp, 'bad\x1b[2Jname.img');
  writeFileSync(bad, 'not an image');
  const err = await refused(['decode', '-i', bad], 1, /bad\\x1b\[2Jname\.img: /);
  assert.doesNotMatch(err, /\x1b/);
  // the rules themselves
  assert.equal(safeText('a\tb\x7f\u0085\udcff\u{1f600}ok\\x'), 'a\\x09b\\x7f\\u0085\\xff\u{1f600}ok\\x');
  assert.equal(safeJson('"\x7f\u2028"'), '"\\u007f\\u2028"');
});

test('x sk: netlink and packet states, a unix peer by the task and fd that hold it', async (t) => {
  const mine = await json('x', hostile, 'sk', '--json');
  assert.deepEqual(mine.map((s) => [s.holders, s.remote, s.peer?.holders]), [[['10:3'], '11:4', ['11:4']], [['11:4'], '10:3', ['10:3']]]);
  if (!corpusOrSkip(t)) return;
  const nl = await json('x', join(CORPUS, 'netlink-packet'), 'sk', '--json');
  const by = (kind) => nl.filter((s) => s.kind === kind).map((s) => [s.state, s.local]);
  assert.deepEqual(by('netlink'), [['UNCONNECTED', 'port 9330 groups 17'], ['UNBOUND', '*']]);
  assert.deepEqual(by('packet'), [['UNCONNECTED', 'ifindex 1'], ['UNCONNECTED', 'ifindex *']]);
  assert.match(await ok('x', join(CORPUS, 'netlink-packet'), 'sk'), /^9330:5 +packet +RAW +UNCONNECTED +ifindex 1 /m);
  const unix = await json('x', join(CORPUS, 'unix-sockets'), 'sk', '--json');
  const ino = (n) => unix.find((s) => s.ino === n);
  assert.equal(ino(85695).remote, '7346:4,7351:4');
  assert.deepEqual(ino(85695).peer, { ino: 85696, holders: ['7346:4', '7351:4'], inDump: true });
  assert.equal(ino(85706).remote, '7351:14');
  const ext = await json('x', join(CORPUS, 'ext-unix-sk'), 'sk', '--json');
  assert.equal(ext[0].remote, '/tmp/corpus-run/ext-unix-sk/server.sock (held by no task)');
  assert.doesNotMatch(JSON.stringify([unix, ext]), /peer \d/);
});

test('encode refuses a field the schema does not have, unless in the lossless "$unknown" form', async (t) => {
  const out = join(tmp, 'enc.img');
  const doc = { magic: 'FS', entries: [{ cwd_id: 13, root_id: 14, umask: 18, bogus: 1 }] };
  let r = await run(CRIT, ['encode', '-o', out], { input: JSON.stringify(doc) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^crit: <stdin>: at entries\[0\]\.bogus: no such field in the schema \(it would be dropped; decode keeps fields it does not know under "\$unknown"\)\n$/);
  assert.equal(existsSync(out), false, 'nothing written');
  // a nested one, in the pretty form, named by its path
  r = await run(CRIT, ['encode'], { input: JSON.stringify({ magic: 'MM', entries: [{ mm_start_code: '0x0', mm_end_code: 0, mm_start_data: 0, mm_end_data: 0, mm_start_stack: 0, mm_start_brk: 0, mm_brk: 0, mm_arg_start: 0, mm_arg_end: 0, mm_env_start: 0, mm_env_end: 0, exe_file_id: 1, vmas: [{ start: '0x1000', end: '0x2000', pgoff: 0, shmid: 0, prot: 'PROT_READ', flags: 'MAP_PRIVATE', status: 'VMA_AREA_REGULAR', fd: -1, colour: 'red' }] }] }) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /at entries\[0\]\.vmas\[0\]\.colour: no such field/);
  // field 99 = 1 as raw protobuf (tag 0x98 0x06, value 0x01): kept and given back
  const lossless = { magic: 'FS', entries: [{ cwd_id: 13, root_id: 14, umask: 18, $unknown: Buffer.from([0x98, 0x06, 0x01]).toString('base64') }] };
  r = await run(CRIT, ['encode', '-o', out], { input: JSON.stringify(lossless) });
  assert.equal(r.code, 0, r.stderr);
  const back = JSON.parse(await ok('decode', '-i', out));
  assert.equal(Buffer.from(back.entries[0].$unknown, 'base64').toString('hex'), '980601');
  if (!corpusOrSkip(t)) return;
  // a slow writer on a pipe: stdin is read as a stream, not one read that gets EAGAIN
  const img = join(CORPUS, 'inet', 'files.img');
  const p = spawnSync('/bin/sh', ['-c', `"${CRIT}" decode -i "${img}" | (sleep 0.3; cat) | "${CRIT}" encode | cmp - "${img}"`], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
});

test('diff --ignore refuses a rule that names nothing, listing what it can be; --page-size only for directories', async (t) => {
  const a = join(tmp, 'fs-a.img');
  writeFileSync(a, encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 1, umask: 18 }] }));
  const err = await refused(['diff', a, a, '--ignore', 'bogus'], 2, /^crit: --ignore bogus: not a field of the images or of crit diff's report; give a section \(tree, task, fds, sockets, mems, pages, stats\), pids, timestamps, a field name/);
  assert.equal(err.split('\n').length, 2, 'one line');
  await refused(['diff', a, a, '--ignore', 'umsk'], 2, /did you mean umask\?/);
  await refused(['diff', a, a, '--page-size', '4096'], 2, /^crit: --page-size applies to image directories/);
  await refused(['diff', hostile, hostile, '--page-size', '1000'], 2, /^crit: --page-size: expected a power of two/);
  await refused(['diff', a, a, '--ignore', 'entries[*].umsk'], 2, /--ignore entries\[\*\]\.umsk: umsk is not a field/);
  for (const rule of ['umask', 'pids', 'timestamps', 'fds', 'entries[*].umask', '**.pos', 'tasks[*].fds[1].pos', 'RLIMIT_NOFILE', 'SIGTERM', 'recvQ']) {
    const r = await crit('diff', a, a, '--ignore', rule);
    assert.equal(r.code, 0, `${rule}: ${r.stderr}`);
  }
  if (!corpusOrSkip(t)) return;
  // every field name of a wide diff's paths is one --ignore accepts
  const r = await crit('diff', join(CORPUS, 'inet'), join(CORPUS, 'unix-sockets'), '--ignore', 'pids', '--json');
  assert.equal(r.code, 1, r.stderr);
  const names = new Set(JSON.parse(r.stdout.toString()).changes.flatMap((c) => c.path.split('.').map((s) => s.replace(/\[.*$/, '')).filter(Boolean)));
  assert.ok(names.size > 20);
  const unknown = [...names].filter((n) => !knownFields().has(n));
  assert.deepEqual(unknown, []);
});

test('error messages name the user\'s file in one plain line, never a temporary', { skip: process.getuid?.() !== 0 && !process.env.CI && 'needs root (mounts a small tmpfs)' }, async () => {
  const small = join(tmp, 'small');
  mkdirSync(small);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', small], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount: ${m.stderr}`);
  try {
    const big = join(tmp, 'big.json');
    const entries = [{ pages_id: 1 }];
    for (let i = 0; i < 3000; i++) entries.push({ vaddr: 0x10000 + i * 0x1000, compat_nr_pages: 0, flags: 4, nr_pages: 1 });
    writeFileSync(big, JSON.stringify({ magic: 'PAGEMAP', entries }));
    const out = join(small, 'pagemap-1.img');
    const err = await refused(['encode', '-i', big, '-o', out], 1, /^crit: .*small\/pagemap-1\.img: no space left on device$/);
    assert.doesNotMatch(err, /\.tmp|E[A-Z]+:/);
    assert.deepEqual(readdirSync(small), [], 'no temporary left behind');
  } finally {
    spawnSync('umount', [small]);
  }
  // Node's "EACCES: ..., open 'path'" is said plainly
  const fs = join(tmp, 'fs-1.img');
  writeFileSync(fs, encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 1 }] }));
  const err = await refused(['decode', '-i', fs, '-o', '/proc/no-such-dir/out.json'], 1, /^crit: \/proc\/no-such-dir\/out\.json: no such file or directory$/);
  assert.doesNotMatch(err, /open '/);
});
