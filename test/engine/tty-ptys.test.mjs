// Terminals: a pty pair that is the session's controlling terminal (and /dev/tty), data queued both ways,
// the slave's owner, termios and window size; a pty whose slave is only a child's controlling terminal; a
// slave whose master is closed. Dumped as CRIU does (tty-info ids index << 1 and +1 for the master, CTTY
// at 1006 << 1, tty-data by those ids), restored, and the program checks its terminals itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ckpt, compile, decodeDir, launch, needPtrace, pythonCritFailures, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, until } from './restore-lib.mjs';

test('ptys, /dev/tty and a hung-up slave: dumped as CRIU does, restored with their state', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('tty-ptys');
  const h = await launch(compile('tty-ptys', dir));
  const child = Number(/child=(\d+)/.exec(h.lines().find((l) => l.startsWith('READY')))[1]);
  const pids = [h.pid, child];
  try {
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    assert.equal(r.status, 0, r.stderr);
    const imgs = await decodeDir(img);
    const infos = imgs['tty-info.img'].entries;
    const byType = (ty) => infos.filter((e) => e.type === ty).map((e) => e.id).sort((a, b) => a - b);
    assert.deepEqual(byType('CTTY'), [1006 << 1]);
    const ptys = infos.filter((e) => e.type === 'PTY');
    for (const e of ptys) assert.equal(e.id >> 1, e.pty.index, `tty-info ${e.id} is its index << 1 (+1 for a master)`);
    assert.equal(ptys.filter((e) => e.id & 1).length, 2, 'two masters (the third was closed)');
    const hung = ptys.find((e) => !(e.id & 1) && !e.termios);
    assert.ok(hung && !ptys.some((e) => e.id === hung.id + 1), 'the slave without master: hung up, no termios');
    const data = imgs['tty-data.img'].entries;
    const ctl = ptys.find((e) => !(e.id & 1) && e.sid === h.pid);
    assert.equal(ctl.uid, 1234);
    assert.equal(ctl.gid, 5678);
    const m2 = ptys.find((e) => e.id & 1 && e.sid === child);
    assert.equal(m2?.pgrp, child, "the child's terminal: on its master's entry");
    assert.deepEqual([m2.winsize.ws_row, m2.winsize.ws_col], [11, 22], "the master's entry has its slave's window");
    assert.deepEqual(data.map((e) => [e.tty_id, Buffer.from(e.data).toString()]).sort(),
      [[ctl.id, 'abc\n'], [ctl.id + 1, 'abc\r\nxyz\r\n'], [m2.id - 1, 'm2\n'], [m2.id, 'm2\r\n']].sort());
    const bad = pythonCritFailures(img);
    if (bad) assert.deepEqual(bad, [], 'Debian crit must decode every image');

    await dumpedPidsFree(pids);
    const root = restoreOk(img);
    assert.equal(root, h.pid);
    process.kill(h.pid, 'SIGUSR1');
    await until(() => h.lines().some((l) => /^(PASS|FAIL)/.test(l)), 10000, 'the program checks its terminals');
    const out = h.lines().filter((l) => /^(PASS|FAIL)/.test(l));
    assert.deepEqual(out, ['PASS']);
  } finally {
    killPids(pids);
  }
});
