// A console and a virtual terminal (device nodes the program makes, as ZDTM's console and vt): dumped as
// CRIU does (tty-info CONSOLE at 1002 << 1, VT at 1004 << 1, the path in a REG entry), reopened by their
// path on restore; the program checks the device, the path and the open mode itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, decodeDir, launch, needPtrace, pythonCritFailures, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, until } from './restore-lib.mjs';

test('a console and a vt: dumped as CRIU does, reopened by their path', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('tty-devices');
  const h = await launch(compile('tty-devices', dir));
  try {
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeDir(img);
    const infos = imgs['tty-info.img'].entries.map((e) => [e.type, e.id, e.rdev]).sort();
    assert.deepEqual(infos, [['CONSOLE', 1002 << 1, (5 << 8) | 1], ['VT', 1004 << 1, (4 << 8) | 5]]);
    const files = imgs['files.img'].entries;
    const names = files.filter((e) => e.type === 'TTY').map((e) => files.find((g) => g.id === e.tty.regf_id).reg.name).sort();
    assert.deepEqual(names, [join(dir, 'console.dev'), join(dir, 'vt.dev')]);
    const bad = pythonCritFailures(img);
    if (bad) assert.deepEqual(bad, [], 'Debian crit must decode every image');

    await dumpedPidsFree([h.pid]);
    assert.equal(restoreOk(img), h.pid);
    process.kill(h.pid, 'SIGUSR1');
    await until(() => h.lines().some((l) => /^(PASS|FAIL)/.test(l)), 10000, 'the program checks its terminals');
    assert.deepEqual(h.lines().filter((l) => /^(PASS|FAIL)/.test(l)), ['PASS']);
  } finally {
    killPids([h.pid]);
  }
});
