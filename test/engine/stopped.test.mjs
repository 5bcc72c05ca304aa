// Group-stopped tasks (stopped by SIGSTOP/SIGTSTP before the dump): seized like CRIU (the group stop
// is let through once, the pending INTERRUPT traps the task), written as TASK_STOPPED with
// stop_signo, and left stopped after --leave-running or a failed dump; SIGCONT then resumes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { alive, ckpt, CKPT, compile, eventually, kill, launch, needPtrace, sessionPids, sleep, workDir } from './helpers.mjs';
import { decodeAll } from './compare.mjs';

/** State letter of every thread of pid, and whether any is traced. */
function threadStates(pid) {
  const out = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    out.push({ tid: Number(tid), state: /State:\s+(\S)/.exec(st)[1], traced: /TracerPid:\s+[1-9]/.test(st) });
  }
  return out;
}

function assertStopped(pid) {
  for (const t of threadStates(pid)) {
    assert.equal(t.state, 'T', `thread ${t.tid} of ${pid} must stay stopped`);
    assert.equal(t.traced, false, `thread ${t.tid} of ${pid} must not stay traced`);
  }
}

function assertRunning(pid) {
  for (const t of threadStates(pid)) {
    assert.ok(t.state === 'S' || t.state === 'R', `thread ${t.tid} of ${pid} must be running (${t.state})`);
    assert.equal(t.traced, false, `thread ${t.tid} of ${pid} must not stay traced`);
  }
}

function ticks(lines) {
  return lines.filter((l) => /^tick \d+/.test(l)).map((l) => Number(/^tick (\d+)/.exec(l)[1]));
}

function assertUnbroken(lines) {
  const t = ticks(lines);
  for (let i = 1; i < t.length; i++) assert.equal(t[i], t[i - 1] + 1, `tick sequence is unbroken: ${t.slice(i - 2, i + 1)}`);
}

for (const [name, sig, signo] of [['threads', 'SIGSTOP', 19], ['loop-dynamic', 'SIGSTOP', 19]]) {
  test(`${name} stopped by ${sig}: dumped -R as TASK_STOPPED (stop_signo ${signo}), stays stopped, SIGCONT resumes it`, async (t) => {
    if (!needPtrace(t)) return;
    const dir = workDir(`stopped-${name}`);
    const h = await launch(compile(name, dir));
    try {
      process.kill(h.pid, sig);
      await eventually(() => assertStopped(h.pid));
      const img = join(dir, 'img');
      const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R', '-v4', '-o', 'dump.log']);
      assert.equal(r.status, 0, r.stderr);
      const n = h.lines().length;
      assertStopped(h.pid);
      // it would tick every 250 ms if it ran
      await sleep(700);
      assertStopped(h.pid);
      assert.equal(h.lines().length, n, 'no output while stopped');

      const imgs = await decodeAll(img);
      const ps = imgs['pstree.img'].entries[0];
      const core = imgs[`core-${ps.pid}.img`].entries[0];
      assert.equal(core.tc.task_state, 3);
      assert.equal(core.tc.stop_signo, signo);
      for (const tid of ps.threads) assert.ok(imgs[`core-${tid}.img`], `core of thread ${tid}`);

      process.kill(h.pid, 'SIGCONT');
      await eventually(() => {
        assertRunning(h.pid);
        const lines = h.lines();
        assert.ok(lines.length >= n + 2, 'goes on after SIGCONT');
        assert.ok(!lines.some((l) => /BAD|mismatch|corrupt/i.test(l)), lines.slice(-3).join('\n'));
        assertUnbroken(lines);
      });
    } finally {
      kill(h);
    }
  });
}

test('a stopped task dumped without -R is killed', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('stopped-kill');
  const h = await launch(compile('loop-static', dir, ['-static']));
  try {
    process.kill(h.pid, 'SIGSTOP');
    await eventually(() => assertStopped(h.pid));
    const r = ckpt(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(alive(h.pid), false, 'dead when the dump returns');
  } finally {
    kill(h);
  }
});

test('a failed dump leaves a stopped task stopped and running tasks running', async (t) => {
  if (!needPtrace(t)) return;
  // 1. a stopped program with an unsupported fd
  const dir = workDir('stopped-fault');
  const h = await launch(compile('unsupported-fd', dir));
  try {
    process.kill(h.pid, 'SIGSTOP');
    await eventually(() => assertStopped(h.pid));
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-R']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /a corked datagram socket \(UDP_CORK\) cannot be dumped/);
    assert.equal(existsSync(join(img, 'inventory.img')), false);
    assertStopped(h.pid);
    await sleep(500);
    assertStopped(h.pid);
    process.kill(h.pid, 'SIGCONT');
    await eventually(() => assertRunning(h.pid));
  } finally {
    kill(h);
  }
  // 2. a tree whose root is stopped and whose children run; the dump fails after the freeze
  const dir2 = workDir('stopped-tree-fault');
  const h2 = await launch(compile('tree-pipes', dir2));
  try {
    const pids = sessionPids(h2.pid);
    assert.ok(pids.length >= 3);
    process.kill(h2.pid, 'SIGSTOP');
    await eventually(() => assertStopped(h2.pid));
    const before = Object.fromEntries(pids.map((p) => [p, threadStates(p)[0].state]));
    assert.equal(before[h2.pid], 'T');
    const img = join(dir2, 'img');
    const r = spawnSync(process.execPath, [CKPT, 'dump', '-t', String(h2.pid), '-D', img], {
      encoding: 'utf8', env: { ...process.env, CKPT_FAULT: 'kill-after-freeze' },
    });
    assert.notEqual(r.status, 0);
    await sleep(500); // anything the failed dump left wrong (a task traced or stopped) is still wrong after this
    for (const p of pids) {
      if (!alive(p)) continue; // the task the fault hook killed
      if (before[p] === 'T') assertStopped(p);
      else assertRunning(p);
    }
    assertStopped(h2.pid);
    process.kill(h2.pid, 'SIGCONT');
    await eventually(() => assertRunning(h2.pid));
  } finally {
    kill(h2);
  }
});

test('a task stopped by SIGTSTP (child2 of tree-pipes, a non-orphaned group) is dumped with stop_signo 20 and stays stopped', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('stopped-tstp');
  const h = await launch(compile('tree-pipes', dir));
  try {
    // SIGTSTP is discarded in orphaned process groups: child2 leads its own group under its parent
    const pgid = (p) => { const s = readFileSync(`/proc/${p}/stat`, 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[2]); };
    const c2 = sessionPids(h.pid).find((p) => p !== h.pid && pgid(p) === p);
    assert.ok(c2, 'child2 found');
    process.kill(c2, 'SIGTSTP');
    await eventually(() => assertStopped(c2));
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(c2), '-D', img, '-R', '-j']);
    assert.equal(r.status, 0, r.stderr);
    assertStopped(c2);
    await sleep(300);
    assertStopped(c2);
    const imgs = await decodeAll(img);
    const core = imgs[`core-${c2}.img`].entries[0];
    assert.equal(core.tc.task_state, 3);
    assert.equal(core.tc.stop_signo, 20);
    process.kill(c2, 'SIGCONT');
    await eventually(() => assertRunning(c2));
  } finally {
    kill(h);
  }
});
