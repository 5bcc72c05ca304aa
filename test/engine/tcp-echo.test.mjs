// A TCP echo server with 100 live clients (progs/tcp-echo.c), in a network namespace of the test's own (unshare -n,
// loopback only): the clients are a process tree of their own, not dumped. The server is dumped with
// --tcp-established (and so killed), restored with --tcp-established -d, and then every client's next request is
// answered, byte for byte and in order: ckpt dumping and restoring, CRIU 4.2 dumping and ckpt restoring, ckpt
// dumping and CRIU restoring (the last two skip, saying why, when there is no CRIU at $CRIU or
// /tmp/criu-ref/criu-4.2/criu/criu: CI does not build CRIU 4.2). One server and one client program go through
// the three cycles in turn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, eventually, needPtrace, netNamespace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, waitGone } from './restore-lib.mjs';

const CRIU = process.env.CRIU || '/tmp/criu-ref/criu-4.2/criu/criu';
const CLIENTS = 100;

let ns; // the test's network namespace
let dir, server, client;
let round = 0; // the client's last round

/** a command in the namespace */
const inNs = (cmd, args) => ns.run(cmd, args);
const ckptNs = (args) => ns.ckpt(args);

before(async () => {
  ns = netNamespace();
  if (process.getuid?.() !== 0) return; // the tests skip (needPtrace) or fail under CI
  dir = workDir('tcp-echo');
  const prog = compile('tcp-echo', dir);
  for (const d of ['server', 'client']) mkdirSync(join(dir, d));
  // nsenter execs the program: its pid is the program's; each in its own session, so each its own tree
  server = await ns.launch(prog, ['server'], join(dir, 'server'));
  const port = Number(/^PORT (\d+)/m.exec(server.lines().join('\n'))[1]);
  client = await ns.launch(prog, ['client', String(CLIENTS), String(port)], join(dir, 'client'));
  assert.ok(client.lines().includes(`ROUND 0 OK n=${CLIENTS}`), client.lines().join('\n'));
});

after(() => {
  if (server) killPids([server.pid, ...sessionPids(server.pid)]);
  if (client) killPids([client.pid]);
  ns?.close();
});

function needCriu(t) {
  if (existsSync(CRIU)) return true;
  t.skip(`no CRIU 4.2 at ${CRIU} (build it with ../shared/criu/build.sh or set CRIU=/path/to/criu)`);
  return false;
}

/** dump the server with one tool, restore it with the other, then one more round of every client */
async function cycle(name, dumpWith, restoreWith) {
  const img = join(dir, `img-${name}`);
  mkdirSync(img); // CRIU needs it made
  const pids = sessionPids(server.pid);
  const d = dumpWith === 'ckpt'
    ? ckptNs(['dump', '-t', String(server.pid), '-D', img, '--tcp-established', '-v4', '-o', 'dump.log'])
    : inNs(CRIU, ['dump', '-t', String(server.pid), '-D', img, '--tcp-established', '-v4', '-o', 'dump.log']);
  assert.equal(d.status, 0, `${dumpWith} dump: ${d.stderr}`);
  await dumpedPidsFree(pids);
  if (restoreWith === 'ckpt') {
    assert.equal(restoreOk(img, ['--tcp-established'], ckptNs), server.pid);
  } else {
    const r = inNs(CRIU, ['restore', '-D', img, '--tcp-established', '-d', '-v4', '-o', 'restore.log']);
    assert.equal(r.status, 0, `criu restore: ${r.stderr}\n${readFileSync(join(img, 'restore.log'), 'utf8').slice(-3000)}`);
    assert.ok(existsSync(`/proc/${server.pid}`), 'the server is back with its pid');
  }
  const rules = inNs('iptables', ['-w', '-S']);
  assert.doesNotMatch(rules.stdout, /DROP/, 'the network lock is dropped after the restore');
  const res = await nextRound();
  assert.equal(res, `ROUND ${round} OK n=${CLIENTS}`);
  assert.ok(existsSync(`/proc/${client.pid}`), 'the clients go on');
}

/** SIGUSR1 to the clients: their line for the next round (bounded: a client gives up on a reply after 60 s and says so) */
async function nextRound() {
  round++;
  process.kill(client.pid, 'SIGUSR1');
  return eventually(() => {
    const l = client.lines().find((x) => x.startsWith(`ROUND ${round} `));
    assert.ok(l, `round ${round} of the clients`);
    return l;
  }, 150000);
}

test('ckpt dump --tcp-established, ckpt restore: every one of 100 clients gets its next reply in order', async (t) => {
  if (!needPtrace(t)) return;
  await cycle('ckpt-ckpt', 'ckpt', 'ckpt');
});

test('CRIU 4.2 dumps the server, ckpt restores it: every client gets its next reply in order', async (t) => {
  if (!needPtrace(t) || !needCriu(t)) return;
  await cycle('criu-ckpt', 'criu', 'ckpt');
});

test('ckpt dumps the server, CRIU 4.2 restores it: every client gets its next reply in order', async (t) => {
  if (!needPtrace(t) || !needCriu(t)) return;
  await cycle('ckpt-criu', 'ckpt', 'criu');
});

test('the server, once killed, leaves the clients nothing: they see their connections closed', async (t) => {
  if (!needPtrace(t)) return;
  killPids([server.pid]);
  assert.ok(await waitGone([server.pid], 10000));
  const res = await nextRound();
  assert.match(res, /^ROUND \d+ FAIL conn \d+: /, 'the check fails when no server answers');
});
