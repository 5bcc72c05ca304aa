// All-or-nothing restore: no thread of the tree runs its own code before every task is completely restored
// (seccomp last). seccomp-threads' workers spin on a syscall their filter denies and write a line the
// moment it is allowed; they also tick into seccomp.log, so any code of theirs that runs shows there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CKPT, ckpt, compile, launch, needPtrace, sessionPids, sleep, workDir } from './helpers.mjs';
import { killPids, restoreOk, waitGone } from './restore-lib.mjs';

async function dumped(name) {
  const dir = workDir(name);
  const prog = compile('seccomp-threads', dir);
  const h = await launch(prog);
  const pids = sessionPids(h.pid);
  assert.equal(pids.length, 2, 'parent and child');
  const img = join(dir, 'img');
  const r = ckpt(['dump', '-t', String(h.pid), '-D', img]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(await waitGone(pids), 'dumped tree gone');
  return { dir, img, pids, log: join(dir, 'seccomp.log') };
}

const unconfined = (log) => readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('UNCONFINED'));

test('restore a seccomp-confined threaded tree: no thread runs before its filter is back', { timeout: 120000 }, async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('aon-seccomp');
  for (let round = 0; round < 3; round++) {
    const root = restoreOk(d.img);
    assert.equal(root, d.pids[0]);
    await sleep(600);
    try {
      assert.deepEqual(unconfined(d.log), [], 'no worker ever ran unconfined');
      for (const pid of d.pids) {
        const st = readFileSync(`/proc/${pid}/status`, 'utf8');
        assert.match(st, /^Seccomp:\s+2$/m, `task ${pid} is confined`);
        assert.match(st, /^Threads:\s+2$/m, `task ${pid} has its worker`);
      }
      const ticks = readFileSync(d.log, 'utf8').split('\n').filter((l) => l.startsWith('tick'));
      for (const pid of d.pids) assert.ok(ticks.some((l) => l.startsWith(`tick ${pid} `)), `task ${pid} goes on ticking`);
    } finally {
      killPids(d.pids);
      assert.ok(await waitGone(d.pids));
    }
  }
});

test('restore fails at the last task\'s very last step: no code of the tree ran, nothing is left', { timeout: 120000 }, async (t) => {
  if (!needPtrace(t)) return;
  const d = await dumped('aon-late-fault');
  const size = statSync(d.log).size;
  for (let round = 0; round < 3; round++) {
    const r = spawnSync(process.execPath, [CKPT, 'restore', '-D', d.img, '-d'], {
      encoding: 'utf8', env: { ...process.env, CKPT_FAULT: 'restore-last-task-late' },
    });
    assert.notEqual(r.status, 0, 'restore must fail');
    assert.match(r.stderr, new RegExp(`Error: task ${d.pids[1]}: restorer: install a seccomp filter .* failed`), r.stderr);
    assert.ok(await waitGone(d.pids, 2000), 'no task left');
    assert.equal(statSync(d.log).size, size, `no code of the tree ran: ${readFileSync(d.log, 'utf8').slice(size)}`);
  }
});
