// --inherit-fd as CRIU means it (the seed's socketpair recipe): a task whose fd 3 is a socket connected to
// its caller (outside the tree), whose fd 4 is a pipe read outside the tree, and whose stdout is a log
// file, is dumped (--ext-unix-sk) and restored with --inherit-fd fd[3]:socket:[INO], fd[4]:pipe:[INO] and
// fd[5]:PATH: the caller's new socket, pipe and file take the ticks that follow.
// And --ext-unix-sk on our own dump: the datagram client is refused without it, reconnected by name with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CKPT, ckpt, compile, needPtrace, sleep, workDir } from './helpers.mjs';
import { dumpedPidsFree, eventually, killPids, lines, ticks, until, waitGone } from './restore-lib.mjs';

test('restore --inherit-fd fd[N]:socket:[INO], fd[N]:pipe:[INO] and fd[N]:PATH replace the dumped resources', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('restore-inherit');
  const prog = compile('restore-inherit', dir);
  const outLog = join(dir, 'out.log'), newLog = join(dir, 'new.log');
  writeFileSync(outLog, '');
  // the caller side of the socket is ours (node's stdio 'pipe' is a unix socketpair); the pipe's reader is a
  // cat outside the tree (a sibling of the program in the launching shell)
  const launcher = spawn('/bin/bash', ['-c', '( exec setsid "$0" 4>&1 >>out.log 2>&1 </dev/null ) | exec cat >> pipe1.log', prog],
    { cwd: dir, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
  const sock1 = [];
  launcher.stdio[3].on('data', (d) => sock1.push(d.toString()));
  const pid = Number((await until(() => /READY pid=(\d+)/.exec(readFileSync(outLog, 'utf8')), 5000, 'READY'))[1]);
  let restorer;
  const pids = [pid];
  try {
    await until(() => sock1.join('').includes('tick 1\n'), 5000, 'the first tick on the socket');
    const sockIno = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/3`))[1];
    const pipeIno = /^pipe:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/4`))[1];
    assert.ok(sock1.join('').includes('tick 1\n'), 'the caller hears the program before the dump');
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(pid), '-D', img, '--ext-unix-sk']);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree([pid]);
    const last = ticks(lines(outLog)).at(-1);

    // without --inherit-fd the socket's peer is missing: refused, nothing runs
    const r0 = ckpt(['restore', '-D', img, '-d']);
    assert.notEqual(r0.status, 0);
    assert.match(r0.stderr, /fd 3.*unix socket/);
    assert.ok(await waitGone([pid], 0), 'nothing restored');
    // a resource no file of the images is
    const r1 = ckpt(['restore', '-D', img, '-d', '--ext-unix-sk', '--inherit-fd', 'fd[3]:socket:[1]']);
    assert.notEqual(r1.status, 0);
    assert.match(r1.stderr, /--inherit-fd fd\[3\]:socket:\[1\]: no restored file is socket:\[1\]/);

    // the caller: a new socketpair end at fd 3, a new pipe (read by a new cat) at fd 4, a new log at fd 5
    const script = 'exec "$0" "$@" 4> >(exec cat >> pipe2.log) 5>>new.log';
    restorer = spawn('/bin/bash', ['-c', script, process.execPath, CKPT, 'restore', '-D', img, '-d', '--ext-unix-sk',
      '--inherit-fd', `fd[3]:socket:[${sockIno}]`, '--inherit-fd', `fd[4]:pipe:[${pipeIno}]`, '--inherit-fd', `fd[5]:${outLog}`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
    const sock2 = [];
    let err = '';
    restorer.stdio[3].on('data', (b) => sock2.push(b.toString()));
    restorer.stderr.on('data', (b) => { err += b; });
    const code = await new Promise((res) => restorer.on('exit', (c) => res(c)));
    assert.equal(code, 0, err);
    assert.ok(readlinkSync(`/proc/${pid}/fd/1`).endsWith('/new.log'), 'stdout is the inherited file');
    assert.equal(readlinkSync(`/proc/${pid}/fd/3`) === `socket:[${sockIno}]`, false, 'fd 3 is the new socket');
    await eventually(() => {
      const n = ticks(lines(newLog));
      assert.ok(n.length >= 3, `the new log gets ticks: ${n}`);
      assert.equal(n[0], last + 1, 'the counter goes on');
      const s = ticks(sock2.join('').split('\n'));
      assert.ok(s.length >= 3 && s[0] === last + 1, `the caller's new socket gets the ticks: ${s}`);
      const p = ticks(lines(join(dir, 'pipe2.log')));
      assert.ok(p.length >= 3 && p[0] === last + 1, `the new pipe gets the ticks: ${p}`);
    });
    assert.ok(!lines(newLog).some((l) => /write failed/.test(l)), 'no write fails');
    assert.equal(ticks(lines(outLog)).at(-1), last, 'the old log is not written after the dump');
  } finally {
    killPids(pids);
    await waitGone(pids);
    launcher.stdio[3].destroy();
    restorer?.stdio[3]?.destroy();
  }
});

test('restore --ext-unix-sk of our own dump: the datagram client reconnects to the live server, twice', async (t) => {
  if (!needPtrace(t)) return;
  const { mkdirSync } = await import('node:fs');
  const { launch, kill } = await import('./helpers.mjs');
  const { restoreOk } = await import('./restore-lib.mjs');
  const dir = workDir('restore-ext-unix-sk');
  const srvDir = join(dir, 'server');
  mkdirSync(srvDir);
  const sock = join(dir, 'server.sock');
  const server = await launch(compile('ext-unix-sk-server', dir), [sock], srvDir);
  const client = await launch(compile('ext-unix-sk', dir), [sock]);
  const heard = () => ticks(lines(join(srvDir, 'out.log')), /ext client tick (\d+)/);
  try {
    for (const round of [1, 2]) {
      const img = join(dir, `img${round}`);
      const d = ckpt(['dump', '-t', String(client.pid), '-D', img, '--ext-unix-sk']);
      assert.equal(d.status, 0, d.stderr);
      await dumpedPidsFree([client.pid]);
      const last = ticks(lines(client.log)).at(-1);
      const r0 = ckpt(['restore', '-D', img, '-d']);
      assert.notEqual(r0.status, 0, 'refused without --ext-unix-sk');
      assert.match(r0.stderr, /external socket.*--ext-unix-sk/);
      assert.equal(restoreOk(img, ['--ext-unix-sk']), client.pid);
      await eventually(() => {
        const after = ticks(lines(client.log)).filter((n) => n > last);
        assert.ok(after.length >= 2 && after[0] === last + 1, `the client goes on: ${after}`);
        assert.ok(after.every((n) => lines(client.log).some((l) => l === `tick ${n} sent=${`ext client tick ${n}`.length}`)), 'every send succeeds');
        assert.ok(heard().includes(after.at(-1)) || heard().includes(after.at(-2)), `the server hears the restored client: ${heard().slice(-3)}`);
      });
    }
  } finally {
    killPids([client.pid]);
    kill(server);
    await waitGone([client.pid]);
  }
});

test('dump --external file[MNT:INO] of a FIFO, restore --inherit-fd fd[N]:file[MNT:INO] and fd[N]:/memfd:NAME (criu\'s inhfd fifo and memfd)', async (t) => {
  if (!needPtrace(t)) return;
  const { closeSync, constants, openSync, statSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const dir = workDir('inherit-ext');
  const prog = compile('inherit-ext', dir);
  const outLog = join(dir, 'out.log');
  writeFileSync(outLog, '');
  const opened = [];
  const open = (p, flags) => { const fd = openSync(p, flags); opened.push(fd); return fd; };
  /** a FIFO in dir, its writer (O_RDWR: never blocks) and a non-blocking reader */
  const fifo = (name) => {
    execFileSync('mkfifo', [join(dir, name)]);
    const w = open(join(dir, name), constants.O_RDWR);
    return { w, r: open(join(dir, name), constants.O_RDONLY | constants.O_NONBLOCK), ino: statSync(join(dir, name)).ino };
  };
  /** a read-only fd of a memfd named m1 holding text (made by a holder process, opened through /proc) */
  const holders = [];
  const memfd = async (text) => {
    const h = spawn(prog, ['hold', 'm1', text], { stdio: ['ignore', 'pipe', 'inherit'] });
    holders.push(h);
    await new Promise((res) => h.stdout.once('data', res));
    return open(`/proc/${h.pid}/fd/3`, constants.O_RDONLY);
  };
  const f1 = fifo('f1'), m1 = await memfd('before');
  const launcher = spawn('/bin/bash', ['-c', 'exec setsid "$0" >>out.log 2>&1 </dev/null', prog],
    { cwd: dir, stdio: ['ignore', 'ignore', 'ignore', f1.r, m1], env: { PATH: '/usr/bin:/bin' } });
  const pid = Number((await until(() => /READY pid=(\d+)/.exec(readFileSync(outLog, 'utf8')), 5000, 'READY'))[1]);
  const pids = [pid];
  let restorer;
  try {
    const { writeSync } = await import('node:fs');
    writeSync(f1.w, 'one');
    await until(() => lines(outLog).some((l) => / fifo=one memfd=before$/.test(l)), 5000, 'fifo=one before the dump');
    const mnt = Number(/^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/3`, 'utf8'))[1]);
    const key = `file[${mnt.toString(16)}:${f1.ino.toString(16)}]`;
    const fdsBefore = readdirSync(`/proc/${pid}/fd`).sort();
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(pid), '-D', img, '--external', key]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);

    const r0 = ckpt(['restore', '-D', img, '-d']);
    assert.notEqual(r0.status, 0);
    assert.match(r0.stderr, new RegExp(`fd 3.*${key.replace(/[[\]]/g, '\\$&')} was dumped as external: restore needs --inherit-fd fd\\[N\\]:`));
    assert.ok(await waitGone(pids, 0), 'nothing restored');

    const f2 = fifo('f2'), m2 = await memfd('after');
    restorer = spawn(process.execPath, [CKPT, 'restore', '-D', img, '-d', '--inherit-fd', `fd[3]:${key}`, '--inherit-fd', 'fd[4]:/memfd:m1'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', f2.r, m2] });
    let err = '';
    restorer.stderr.on('data', (b) => { err += b; });
    const code = await new Promise((res) => restorer.on('exit', (c) => res(c)));
    assert.equal(code, 0, err);
    writeSync(f2.w, 'two');
    await eventually(() => assert.ok(lines(outLog).some((l) => / fifo=two memfd=after$/.test(l)), lines(outLog).slice(-3).join('\n')));
    // fd 3 is a description of its own on the new FIFO (reopened, as criu does), with the dumped O_NONBLOCK
    assert.equal(statSync(`/proc/${pid}/fd/3`).ino, f2.ino);
    assert.equal(Number.parseInt(/^flags:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/3`, 'utf8'))[1], 8) & constants.O_NONBLOCK, constants.O_NONBLOCK);
    // the same fds as before the dump (whatever the program inherited besides 0-4 too): no inherited fd left over
    assert.deepEqual(readdirSync(`/proc/${pid}/fd`).sort(), fdsBefore);
  } finally {
    killPids(pids);
    await waitGone(pids);
    for (const h of holders) h.kill('SIGKILL');
    for (const fd of opened) closeSync(fd);
    launcher.kill();
  }
});
