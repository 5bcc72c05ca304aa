// scripts/zdtm.mjs without running the suite: the work copy's symlinks are
// restored from a source tarball (only files holding exactly the link
// target), the copy is remade on run.sh's condition, TAP reports and test
// lists are read, and bad invocations end with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib/corpus.mjs';
import { absolutePaths, parseTap, prepareWork, readList, restoreSymlinks, tarballTestLinks } from '../scripts/zdtm.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'zdtm-script-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const SCRIPT = join(ROOT, 'scripts/zdtm.mjs');

function write(path, text) {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** A source tree top/ with symlinks in test/ and outside it, packed as CRIU's tarball is. */
function makeTarball(dir) {
  const src = join(dir, 'src');
  write(join(src, 'top/test/zdtm/fork.c'), 'int main;\n');
  symlinkSync('fork.c', join(src, 'top/test/zdtm/fork2.c'));
  mkdirSync(join(src, 'top/test/lib'), { recursive: true });
  symlinkSync('../zdtm/fork.c', join(src, 'top/test/lib/up.c'));
  symlinkSync('x.c', join(src, 'top/test/zdtm/changed.c'));
  symlinkSync('y.c', join(src, 'top/test/zdtm/absent.c'));
  symlinkSync('z.c', join(src, 'top/test/zdtm/already.c'));
  write(join(src, 'top/soccr/test/a.c'), '');
  symlinkSync('a.c', join(src, 'top/soccr/test/b.c'));
  const tarball = join(dir, 'criu/criu-4.2-src.tar.gz');
  mkdirSync(join(dir, 'criu'));
  execFileSync('tar', ['-czf', tarball, '-C', src, 'top']);
  return tarball;
}

/** The suite as the shared copy has it: each symlink a file holding its target. */
function makeSuite(dir) {
  const suite = join(dir, 'zdtm');
  write(join(suite, 'run.sh'), '#!/bin/sh\n');
  write(join(suite, 'test/zdtm.py'), '');
  write(join(suite, 'test/zdtm/fork.c'), 'int main;\n');
  write(join(suite, 'test/zdtm/fork2.c'), 'fork.c');
  write(join(suite, 'test/lib/up.c'), '../zdtm/fork.c');
  write(join(suite, 'test/zdtm/changed.c'), 'x.c\n'); // not exactly the target: a real file
  symlinkSync('z.c', join(suite, 'test/zdtm/already.c'));
  write(join(suite, 'soccr/test/b.c'), 'a.c'); // outside test/: not ours to touch
  return suite;
}

test('the tarball gives the symlinks of its test/ directory only', () => {
  const dir = join(tmp, 'links');
  const links = tarballTestLinks(makeTarball(dir)).sort();
  assert.deepEqual(links, [
    ['test/lib/up.c', '../zdtm/fork.c'],
    ['test/zdtm/absent.c', 'y.c'],
    ['test/zdtm/already.c', 'z.c'],
    ['test/zdtm/changed.c', 'x.c'],
    ['test/zdtm/fork2.c', 'fork.c'],
  ]);
});

test('only a regular file holding exactly the target becomes the symlink', () => {
  const dir = join(tmp, 'restore');
  const links = tarballTestLinks(makeTarball(dir));
  const suite = makeSuite(dir);
  assert.equal(restoreSymlinks(suite, links), 2);
  assert.equal(readlinkSync(join(suite, 'test/zdtm/fork2.c')), 'fork.c');
  assert.equal(readFileSync(join(suite, 'test/lib/up.c'), 'utf8'), 'int main;\n'); // resolves
  assert.ok(lstatSync(join(suite, 'test/zdtm/changed.c')).isFile());
  assert.equal(readFileSync(join(suite, 'test/zdtm/changed.c'), 'utf8'), 'x.c\n');
  assert.throws(() => lstatSync(join(suite, 'test/zdtm/absent.c')), { code: 'ENOENT' });
  assert.ok(lstatSync(join(suite, 'soccr/test/b.c')).isFile());
  assert.equal(restoreSymlinks(suite, links), 0, 'a second pass changes nothing');
});

test('the work copy is made on run.sh\'s condition, repaired once, remade when the suite is newer', () => {
  const dir = join(tmp, 'prepare');
  makeTarball(dir);
  const suite = makeSuite(dir);
  const work = join(dir, 'work');
  prepareWork(suite, work);
  assert.equal(readlinkSync(join(work, 'test/zdtm/fork2.c')), 'fork.c');
  assert.ok(lstatSync(join(suite, 'test/zdtm/fork2.c')).isFile(), 'the suite itself is left alone');
  // a file of the work copy (a build product) survives while the copy is current
  write(join(work, 'test/zdtm/fork2.o'), 'obj');
  prepareWork(suite, work);
  assert.equal(readFileSync(join(work, 'test/zdtm/fork2.o'), 'utf8'), 'obj');
  // zdtm.py newer than the copy: run.sh would remake it, so we do, repaired again
  const later = new Date(Date.now() + 5000);
  utimesSync(join(suite, 'test/zdtm.py'), later, later);
  prepareWork(suite, work);
  assert.throws(() => lstatSync(join(work, 'test/zdtm/fork2.o')), { code: 'ENOENT' });
  assert.equal(readlinkSync(join(work, 'test/zdtm/fork2.c')), 'fork.c');
});

test('a missing tarball is one clear error', () => {
  const dir = join(tmp, 'notar');
  const suite = makeSuite(dir);
  assert.throws(() => prepareWork(suite, join(dir, 'work')), /CRIU's source tarball not found at .*criu-4\.2-src\.tar\.gz/);
});

test('TAP report lines: ok, not ok, skip', () => {
  const tap = [
    'TAP version 13', '1..4',
    'ok 1 - zdtm/static/env00',
    'not ok 2 - zdtm/static/cow00 # flavor h',
    '---', '|', '  output', '...',
    'ok 3 - zdtm/static/tun # SKIP no tun feature',
    'ok 4 - inhfd/pipe.py',
  ].join('\n');
  assert.deepEqual([...parseTap(tap)], [
    ['zdtm/static/env00', 'ok'],
    ['zdtm/static/cow00', 'fail'],
    ['zdtm/static/tun', 'skip: no tun feature'],
    ['inhfd/pipe.py', 'ok'],
  ]);
});

test('a test list: one name a line, comments and blanks ignored; an empty one is an error', () => {
  const f = join(tmp, 'list.txt');
  writeFileSync(f, '# passing with ckpt\nzdtm/static/env00\n\n  zdtm/static/pipe00  # a pipe\n');
  assert.deepEqual(readList(f), ['zdtm/static/env00', 'zdtm/static/pipe00']);
  writeFileSync(f, '# nothing\n');
  assert.throws(() => readList(f), /names no test/);
});

test('bad invocations end with one line and status 2', () => {
  const run = (args, env = {}) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const cases = [
    [[], { ZDTM_DIR: join(tmp, 'nowhere') }, /^zdtm: ZDTM suite not found at .*nowhere/],
    [['--list', join(tmp, 'no-such-list')], { ZDTM_DIR: join(tmp, 'restore/zdtm') }, /^zdtm: cannot read test list .*no-such-list: ENOENT/],
    [['--list'], { ZDTM_DIR: join(tmp, 'restore/zdtm') }, /^zdtm: --list needs a file/],
    [['--socketpair', '-v'], { ZDTM_DIR: join(tmp, 'restore/zdtm') }, /^zdtm: --socketpair takes only --criu-bin/],
  ];
  const list = join(tmp, 'one.txt');
  writeFileSync(list, 'zdtm/static/env00\n');
  cases.push([['--list', list, '-t', 'zdtm/static/pipe00'], { ZDTM_DIR: join(tmp, 'restore/zdtm') }, /^zdtm: --list FILE chooses the tests/]);
  for (const [args, env, pattern] of cases) {
    const r = run(args, env);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test('paths given to zdtm.py are made absolute (it runs in the work copy)', () => {
  const cwd = process.cwd();
  assert.deepEqual(absolutePaths(['-f', 'h', '--report', 'rep', '--from=list.txt', '-F', '/abs', '--criu-bin', 'bin/criu', '-t', 'zdtm/static/env00']),
    ['-f', 'h', '--report', join(cwd, 'rep'), `--from=${join(cwd, 'list.txt')}`, '-F', '/abs', '--criu-bin', join(cwd, 'bin/criu'), '-t', 'zdtm/static/env00']);
});
