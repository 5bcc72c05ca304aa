// TCP repair and the network lock without the inet kind (src/tcp-stream.ts, src/netlock.ts,
// native/tcp-repair.cc, native/restore/kinds/tcp-stream.c, native/restore/netlock.c), each case in a
// network namespace of its own:
// - both ends of a loopback connection (progs/tcp-pair.c) with data in flight both ways (unread in a
//   receive queue, unsent behind a closed window, sent but never acknowledged because the lock dropped
//   it) are dumped through TcpRepair into tcp-stream images, the program is killed (the sockets vanish in
//   repair mode: no RST), both ends are rebuilt from the images by the helper's C code, the lock is dropped
//   as the helper drops it (the commands restoreUnlockCommands derives from inventory.img and files.img),
//   and every byte arrives in order, then new data both ways and the closes: IPv4 with iptables, IPv6
//   with nftables;
// - the lock itself: CRIU's rules and names present while locked, gone after unlock, for both methods;
//   a failed dump's resume() leaves the connection working;
// - ckpt dump and restore with --network-lock nftables: -R and a failed dump drop the lock, a dump that
//   kills the tree leaves it (named by inventory.img's run id) and the restore drops it;
// - CRIU 4.2's own dump of established connections (corpus inet): its lock is what our restore drops, its
//   tcp-stream images read, the two ends of each connection agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeImage, writeImageFile } from '@ckpt/images';
import { CKPT, CORPUS, ROOT, alive, compile, launch, needPtrace, workDir } from './helpers.mjs';
import { corpusOrSkip } from '../lib/corpus.mjs';

const { NetLock, restoreUnlockCommands, AF_INET, AF_INET6 } = await import(join(ROOT, 'packages/engine/dist/netlock.js'));
const { TcpRepair, writeTcpStream, readTcpStream, restoreStream, TCP } = await import(join(ROOT, 'packages/engine/dist/tcp-stream.js'));
const { native } = await import(join(ROOT, 'packages/engine/dist/native.js'));
const { Log } = await import(join(ROOT, 'packages/engine/dist/log.js'));

const KINDS = join(ROOT, 'packages/engine/native/restore/kinds');
const NA1 = 2000, NA2 = 3000;
const ab = (i) => (i * 7 + 1) & 0xff, ba = (i) => (i * 13 + 5) & 0xff;
const pattern = (from, n, f) => Buffer.from(Array.from({ length: n }, (_, i) => f(from + i)));

/** what the tests need beyond root: the tools, else skip (a failure under CI) */
function need(t, tools) {
  if (!needPtrace(t)) return false;
  const missing = tools.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (!missing.length) return true;
  const why = `needs ${missing.join(', ')} (apt-get install iptables nftables iproute2)`;
  if (process.env.CI) assert.fail(why);
  t.skip(why);
  return false;
}

/** a named network namespace with lo up, deleted after fn */
async function inNetns(fn) {
  const name = `ckpt-tcprepair-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const ip = (...a) => {
    const r = spawnSync('ip', a, { encoding: 'utf8' });
    assert.equal(r.status, 0, `ip ${a.join(' ')}: ${r.stderr}`);
  };
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    return await fn(name);
  } finally {
    spawnSync('ip', ['netns', 'del', name]);
  }
}

const inNs = (ns, cmd, input) => spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', input });

/** a program in netns ns, its stdout line by line */
function start(ns, argv, env = {}) {
  const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines = [];
  let waiting;
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  createInterface({ input: p.stdout }).on('line', (l) => {
    lines.push(l);
    waiting?.();
  });
  p.on('exit', () => waiting?.());
  const exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
  return {
    p, exited, stderr: () => stderr,
    /** the first line matching re (a FAIL line or the exit fails the test) */
    async line(re, ms = 20000) {
      const end = Date.now() + ms;
      for (;;) {
        const l = lines.find((x) => re.test(x));
        if (l) return re.exec(l);
        const f = lines.find((x) => /^FAIL/.test(x));
        if (f || p.exitCode !== null || Date.now() > end) assert.fail(`${argv.join(' ')}: no ${re} (${f ?? (p.exitCode !== null ? `exit ${p.exitCode}` : 'timeout')}); stderr: ${stderr}`);
        await new Promise((r) => { waiting = r; setTimeout(r, 200); });
      }
    },
  };
}

/** our fd of fd of pid, its addresses as a TcpConn */
function takeConn(pid, fd) {
  const n = native();
  const own = n.getFd(pid, fd);
  const addr = (b) => (b.readUInt16LE(0) === AF_INET ? { a: b.subarray(4, 8), port: b.readUInt16BE(2) } : { a: b.subarray(8, 24), port: b.readUInt16BE(2) });
  const s = addr(n.sockName(own)), d = addr(n.sockName(own, true));
  return { fd: own, conn: { family: n.sockName(own).readUInt16LE(0), src: Buffer.from(s.a), sport: s.port, dst: Buffer.from(d.a), dport: d.port } };
}

const outRsts = (ns) => {
  const l = inNs(ns, ['cat', '/proc/net/snmp']).stdout.split('\n').filter((x) => x.startsWith('Tcp:'));
  const keys = l[0].split(/\s+/), vals = l[1].split(/\s+/);
  return Number(vals[keys.indexOf('OutRsts')]);
};

/** what the lock left in netns ns: CRIU's iptables rules, or its nftables table */
// criu's name of a run's table: "inet CRIU-<run id>" in a char[32], the run id cut to 21 characters
const criuTable = (runId) => `inet CRIU-${runId.slice(0, 21)}`;

function lockRules(ns, method, table) {
  if (method === 'nftables') {
    const r = inNs(ns, ['nft', 'list', 'table', ...table.split(' ')]);
    // not there: a lock's table under another name shows (the namespace is the test's own)
    return r.status === 0 ? r.stdout : inNs(ns, ['nft', 'list', 'tables']).stdout.split('\n').filter((l) => /CRIU-/.test(l)).join('\n');
  }
  return ['iptables', 'ip6tables'].map((b) => inNs(ns, [b, '-w', '-S']).stdout.split('\n').filter((l) => /0xc114/i.test(l)).join('\n')).join('\n').trim();
}

/** the line tcp-pair restore reads for the socket of files.img with inode ino: what restoreStream gives the helper */
function stateLine(dir, ino) {
  const isk = decodeImage(join(dir, 'files.img')).entries.find((e) => e.type === 'INETSK' && e.isk.ino === ino).isk;
  const s = restoreStream(dir, isk, `socket ${ino}`);
  const text = (a) => (s.family === AF_INET ? [...a.subarray(0, 4)].join('.') : a.toString('hex').match(/.{4}/g).join(':'));
  const hex = (b) => (b.length ? b.toString('hex') : '-');
  return [s.family, text(s.src), s.sport, text(s.dst), s.dport, s.reuseaddr, ...s.fields, hex(s.inq), hex(s.outq)].join(' ');
}

/** inventory.img and files.img as CRIU 4.2 writes them for the two ends (what restoreUnlockCommands reads) */
function writeDumpImages(dir, method, runId, ends) {
  writeImageFile(join(dir, 'inventory.img'), { magic: 'INVENTORY', entries: [{ img_version: 2, network_lock_method: ['iptables', 'nftables', 'skip'].indexOf(method), dump_criu_run_id: runId }] });
  const words = (a) => Array.from({ length: a.length / 4 }, (_, i) => a.readUInt32LE(4 * i));
  writeImageFile(join(dir, 'files.img'), { magic: 'FILES', entries: ends.map((e, i) => ({ type: 'INETSK', id: i + 1, isk: {
    id: i + 1, ino: e.ino, family: e.conn.family, type: 1, proto: 6, state: e.state, src_port: e.conn.sport, dst_port: e.conn.dport,
    flags: 2, backlog: 0, src_addr: words(e.conn.src), dst_addr: words(e.conn.dst),
    fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 },
    opts: { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n, reuseaddr: e.reuseaddr },
  } })) });
}

async function roundTrip(t, family, method, half = false) {
  const dir = workDir(`tcp-repair-${method}`);
  const prog = compile('tcp-pair', dir, ['-I', KINDS, '-I', join(ROOT, 'packages/engine/native/restore'), '-I', join(ROOT, 'packages/engine/native'),
    '-I', join(ROOT, 'packages/engine/build/restore'), join(KINDS, 'tcp-stream.c'), join(ROOT, 'packages/engine/native/restore/netlock.c')]);
  const log = new Log(4, join(dir, 'ckpt.log'));
  await inNetns(async (ns) => {
    const h = start(ns, [prog, 'make', String(family), ...(half ? ['half'] : [])]);
    let killed = false;
    try {
      const [, pid, fa, fb, , nbText] = await h.line(/^READY pid=(\d+) a=(\d+) b=(\d+) ab=(\d+) ba=(\d+)/);
      const nb = Number(nbText);
      const runId = randomUUID();
      const lock = new NetLock(method, runId, log, `/run/netns/${ns}`);
      lock.lock();
      const A = takeConn(Number(pid), Number(fa)), B = takeConn(Number(pid), Number(fb));
      // what A sends now leaves A and is dropped on its way into B: sent, never acknowledged (a drop on
      // output, as the lock's, would keep it unsent)
      const bin = family === 4 ? 'iptables' : 'ip6tables', any = family === 4 ? '0.0.0.0/0' : '::/0';
      const drop = (op) => (half ? { status: 0 } : inNs(ns, [bin, '-w', op, 'INPUT', '-p', 'tcp', '-s', any, '--sport', String(A.conn.sport), '--dport', String(A.conn.dport), '-j', 'DROP']));
      assert.equal(drop('-I').status, 0);
      h.p.kill('SIGUSR1');
      await h.line(half ? /^SHUT/ : /^SENT ab=5000/);
      if (half) return await halfClosed(t, { ns, h, dir, prog, log, lock, runId, A, B, nb, pid, method, killedNow: () => { killed = true; } });
      await new Promise((r) => setTimeout(r, 300));
      const tcp = new TcpRepair(lock, log, true);
      const sa = tcp.dump(A.fd, A.conn, 'A'), sb = tcp.dump(B.fd, B.conn, 'B');
      native().close(A.fd);
      native().close(B.fd);
      assert.equal(drop('-D').status, 0);
      assert.match(lockRules(ns, method, criuTable(runId)), method === 'nftables' ? /conns/ : /DROP/);
      assert.equal(sa.state, TCP.ESTABLISHED);
      assert.equal(sb.state, TCP.ESTABLISHED);
      // A: B's data fills its small receive queue; its own last 3000 bytes sent but unacknowledged
      assert.ok(sa.entry.inq_len > 0, 'A has unread data');
      assert.equal(sa.entry.outq_len, NA2);
      assert.equal(sa.entry.unsq_len, 0);
      assert.deepEqual(sa.inq, pattern(0, sa.entry.inq_len, ba));
      assert.deepEqual(sa.outq, pattern(NA1, NA2, ab));
      // B: A's first 2000 bytes unread; the rest of its stream in its send queue, partly never sent
      assert.equal(sb.entry.inq_len, NA1);
      assert.deepEqual(sb.inq, pattern(0, NA1, ab));
      assert.ok(sb.entry.unsq_len > 0, 'B has unsent data');
      assert.equal(sa.entry.inq_len + sb.entry.outq_len, nb);
      assert.deepEqual(sb.outq, pattern(sa.entry.inq_len, sb.entry.outq_len, ba));
      assert.equal(sb.entry.inq_seq, (sa.entry.outq_seq - NA2) >>> 0, 'B has received up to what A sent before the lock');
      // the images, as CRIU writes them, read back
      writeTcpStream(dir, 0x1a, sa);
      writeTcpStream(dir, 0x1b, sb);
      const ra = readTcpStream(dir, 0x1a, 'A'), rb = readTcpStream(dir, 0x1b, 'B');
      assert.deepEqual(ra.entry, sa.entry);
      assert.deepEqual(rb.outq, sb.outq);
      // the tree is killed: its sockets vanish in repair mode, without a RST; the lock stays
      const rsts = outRsts(ns);
      h.p.kill('SIGKILL');
      killed = true;
      await h.exited;
      tcp.release();
      assert.equal(outRsts(ns), rsts, 'no RST when the sockets closed in repair mode');
      assert.notEqual(lockRules(ns, method, criuTable(runId)), '', 'the lock outlives a dump that kills the tree');

      // restore: both ends rebuilt from the images, then the network unlocked as the helper does it
      // tcp-pair sets SO_REUSEADDR on A
      writeDumpImages(dir, method, runId, [{ ino: 0x1a, conn: A.conn, state: sa.state, reuseaddr: true }, { ino: 0x1b, conn: B.conn, state: sb.state, reuseaddr: false }]);
      const unlock = restoreUnlockCommands(dir, Number(pid));
      assert.ok(unlock.length, 'the restore has commands to unlock with');
      const r = start(ns, [prog, 'restore', String(NA1 + NA2), String(nb)], { CKPT_NET_UNLOCK: unlock });
      r.p.stdin.write(`${stateLine(dir, 0x1a)}\n${stateLine(dir, 0x1b)}\n`);
      await r.line(/^REPAIRED/);
      assert.notEqual(lockRules(ns, method, criuTable(runId)), '', 'locked while the sockets are repaired');
      r.p.stdin.write('go\n');
      await r.line(/^OK ab=5000 ba=\d+/);
      assert.equal((await r.exited).code, 0);
      assert.equal(lockRules(ns, method, criuTable(runId)), '', 'the restore removed the lock');
      t.diagnostic(`${method}: A->B ${NA1}+${NA2} bytes (${NA2} unacknowledged), B->A ${nb} bytes (${sb.entry.unsq_len} unsent) arrived in order`);
    } finally {
      if (!killed) h.p.kill('SIGKILL');
    }
  });
  log.close?.();
}

/** the half-closed case of roundTrip: A FIN-WAIT-2 (its FIN acknowledged), B CLOSE-WAIT (A's FIN received) */
async function halfClosed(t, { ns, h, dir, prog, log, lock, runId, A, B, nb, pid, method, killedNow }) {
  await new Promise((r) => setTimeout(r, 300));
  const tcp = new TcpRepair(lock, log, true);
  const sa = tcp.dump(A.fd, A.conn, 'A'), sb = tcp.dump(B.fd, B.conn, 'B');
  native().close(A.fd);
  native().close(B.fd);
  assert.equal(sa.state, TCP.FIN_WAIT2);
  assert.equal(sb.state, TCP.CLOSE_WAIT);
  assert.equal(sa.entry.outq_len, 0, 'the FIN is not data');
  assert.equal(sb.entry.inq_len, NA1, 'the FIN is not data');
  assert.deepEqual(sb.inq, pattern(0, NA1, ab));
  assert.equal(sa.entry.inq_len + sb.entry.outq_len, nb);
  writeTcpStream(dir, 0x2a, sa);
  writeTcpStream(dir, 0x2b, sb);
  assert.deepEqual(readTcpStream(dir, 0x2a, 'A').entry, sa.entry);
  assert.deepEqual(readTcpStream(dir, 0x2b, 'B').inq, sb.inq);
  const rsts = outRsts(ns);
  h.p.kill('SIGKILL');
  killedNow();
  await h.exited;
  tcp.release();
  assert.equal(outRsts(ns), rsts, 'no RST when the sockets closed in repair mode');
  writeDumpImages(dir, method, runId, [{ ino: 0x2a, conn: A.conn, state: sa.state, reuseaddr: true }, { ino: 0x2b, conn: B.conn, state: sb.state, reuseaddr: false }]);
  // iptables: one of the four rules gone before the restore (someone deleted it): the helper's one
  // iptables-restore fails as a whole, and each other rule goes by itself
  let missing;
  if (method === 'iptables') {
    missing = lockRules(ns, method).split('\n')[0];
    assert.equal(inNs(ns, ['iptables', '-w', ...missing.replace(/^-A /, '-D ').split(' ')]).status, 0);
  }
  const r = start(ns, [prog, 'restore', String(NA1), String(nb), 'half'], { CKPT_NET_UNLOCK: restoreUnlockCommands(dir, Number(pid)) });
  r.p.stdin.write(`${stateLine(dir, 0x2a)}\n${stateLine(dir, 0x2b)}\n`);
  await r.line(/^REPAIRED/);
  r.p.stdin.write('go\n');
  await r.line(/^OK ab=2000 ba=\d+/);
  assert.equal((await r.exited).code, 0);
  assert.equal(lockRules(ns, method, criuTable(runId)), '', 'the restore removed the lock');
  if (missing) assert.match(r.stderr(), /network unlock: `iptables-restore -w --noflush` failed[^]*network unlock: `iptables -w [^`]*-D [^`]*` failed/, `${missing} was missing`);
  t.diagnostic(`${method}: FIN-WAIT-2 and CLOSE-WAIT rebuilt (forged FIN and ACK through the lock), ${nb} bytes B->A (${sb.entry.unsq_len} unsent)`);
}

test('tcp repair: an IPv4 connection with data in flight both ways, dumped and rebuilt (iptables lock)', async (t) => {
  if (!need(t, ['ip', 'iptables'])) return;
  await roundTrip(t, 4, 'iptables');
});

test('tcp repair: an IPv6 connection with data in flight both ways, dumped and rebuilt (nftables lock)', async (t) => {
  if (!need(t, ['ip', 'nft'])) return;
  await roundTrip(t, 6, 'nftables');
});

test('network lock: CRIU\'s rules while locked, none after unlock; a failed dump\'s resume leaves the connection working', async (t) => {
  if (!need(t, ['ip', 'iptables', 'ip6tables', 'nft'])) return;
  const dir = workDir('netlock');
  const prog = compile('tcp-pair', dir, ['-I', KINDS, '-I', join(ROOT, 'packages/engine/native/restore'), '-I', join(ROOT, 'packages/engine/native'),
    '-I', join(ROOT, 'packages/engine/build/restore'), join(KINDS, 'tcp-stream.c'), join(ROOT, 'packages/engine/native/restore/netlock.c')]);
  const log = new Log(4, join(dir, 'ckpt.log'));
  for (const [family, method] of [[4, 'iptables'], [6, 'iptables'], [4, 'nftables'], [6, 'nftables'], [4, 'skip']]) {
    await inNetns(async (ns) => {
      const h = start(ns, [prog, 'make', String(family)]);
      try {
        const [, pid, fa] = await h.line(/^READY pid=(\d+) a=(\d+) b=(\d+)/);
        const runId = randomUUID(), table = criuTable(runId);
        const lock = new NetLock(method, runId, log, `/run/netns/${ns}`);
        lock.lock();
        const A = takeConn(Number(pid), Number(fa));
        // as the dump: every connection locked at once after the freeze (once each), then claimed by its repair
        lock.lockConnections([{ conn: A.conn, what: 'A' }, { conn: A.conn, what: 'A again' }]);
        const tcp = new TcpRepair(lock, log, true);
        tcp.dump(A.fd, A.conn, 'A');
        const rules = lockRules(ns, method, table);
        if (method === 'iptables') assert.equal(rules.split('\n').length, 2, `two rules:\n${rules}`);
        const us = family === 4 ? '127.0.0.1' : '::1';
        if (method === 'iptables') {
          const bin = family === 4 ? 'iptables' : 'ip6tables';
          const lines = inNs(ns, [bin, '-w', '-S']).stdout;
          const m = (chain, s, sp, d, dp) => new RegExp(`^-A ${chain} -s ${s.replace(/\./g, '\\.')}(/32|/128) -d ${d.replace(/\./g, '\\.')}(/32|/128) -p tcp -m mark ! --mark 0xc114 -m tcp --sport ${sp} --dport ${dp} -j DROP$`, 'm');
          assert.match(lines, m('INPUT', us, A.conn.dport, us, A.conn.sport));
          assert.match(lines, m('OUTPUT', us, A.conn.sport, us, A.conn.dport));
        } else if (method === 'nftables') {
          for (const l of ['chain input', 'chain output', 'meta mark 0x0000c114 accept', `@conns${family} drop`, 'set conns4', 'set conns6']) assert.ok(rules.includes(l), `${l} in\n${rules}`);
          const el = new RegExp(`${us.replace(/\./g, '\\.')} \\. ${A.conn.dport} \\. ${us.replace(/\./g, '\\.')} \\. ${A.conn.sport}`);
          assert.match(rules, el);
        } else {
          assert.equal(rules, '');
        }
        // a failed dump: unlocked, out of repair; the connection still carries data
        tcp.resume();
        lock.unlock();
        native().close(A.fd);
        assert.equal(lockRules(ns, method, table), '', `${method}: nothing left after unlock`);
        h.p.kill('SIGUSR1');
        await h.line(/^SENT ab=5000/);
        // nothing was dropped: B's receive queue gets all 5000 bytes of A's stream (read without a lock)
        const B = takeConn(Number(pid), Number((await h.line(/b=(\d+)/))[1]));
        const peek = new TcpRepair(new NetLock('skip', runId, log), log, true);
        let inq = 0;
        for (let i = 0; i < 50 && inq < 5000; i++) {
          await new Promise((r) => setTimeout(r, 100));
          inq = peek.dump(B.fd, B.conn, 'B').entry.inq_len;
          peek.resume();
        }
        native().close(B.fd);
        assert.equal(inq, 5000, `${method}: B received what A sent after the unlock`);
      } finally {
        h.p.kill('SIGKILL');
        await h.exited;
      }
    });
  }
});

test('tcp repair: a half-closed connection (FIN-WAIT-2 and CLOSE-WAIT ends), dumped and rebuilt (IPv4 iptables, IPv6 nftables)', async (t) => {
  if (!need(t, ['ip', 'iptables', 'nft'])) return;
  await roundTrip(t, 4, 'iptables', true);
  await roundTrip(t, 6, 'nftables', true);
});

test('network lock in ckpt dump and restore: -R and a failed dump unlock, a killing dump leaves the lock for the restore', async (t) => {
  if (!need(t, ['ip', 'nft', 'nsenter'])) return;
  const dir = workDir('netlock-cli');
  const prog = compile('loop-static', dir);
  await inNetns(async (ns) => {
    const inside = ['nsenter', `--net=/run/netns/${ns}`];
    const ck = (args, env = {}) => spawnSync(inside[0], [...inside.slice(1), process.execPath, CKPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    const tables = () => inNs(ns, ['nft', 'list', 'tables']).stdout.trim();
    const inv = (d) => decodeImage(join(d, 'inventory.img')).entries[0];
    const pids = [];
    try {
      // -R: the lock is taken and dropped
      let h = await launch('/usr/bin/nsenter', [`--net=/run/netns/${ns}`, prog], dir);
      pids.push(h.pid);
      let r = ck(['dump', '-t', String(h.pid), '-D', join(dir, 'r'), '-R', '--network-lock', 'nftables', '-v4', '-o', 'dump.log']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(readFileSync(join(dir, 'r/dump.log'), 'utf8'), /Lock network \(nftables table inet CRIU-/);
      assert.equal(tables(), '', '-R drops the lock');
      assert.equal(inv(join(dir, 'r')).network_lock_method, 1);
      // a failed dump drops it
      r = ck(['dump', '-t', String(h.pid), '-D', join(dir, 'f'), '--network-lock', 'nftables'], { CKPT_FAULT: 'kill-after-freeze' });
      assert.notEqual(r.status, 0);
      assert.equal(tables(), '', 'a failed dump drops the lock');
      // a dump that kills the tree keeps it, named by the run id in inventory.img; the restore drops it
      h = await launch('/usr/bin/nsenter', [`--net=/run/netns/${ns}`, prog], dir);
      pids.push(h.pid);
      r = ck(['dump', '-t', String(h.pid), '-D', join(dir, 'k'), '--network-lock', 'nftables']);
      assert.equal(r.status, 0, r.stderr);
      const runId = inv(join(dir, 'k')).dump_criu_run_id;
      assert.equal(tables(), `table ${criuTable(runId)}`);
      r = ck(['restore', '-D', join(dir, 'k'), '-d', '--network-lock', 'iptables', '-v4', '-o', 'restore.log']);
      assert.equal(r.status, 0, r.stderr);
      const rlog = readFileSync(join(dir, 'k/restore.log'), 'utf8');
      assert.match(rlog, /--network-lock will be ignored in restore command/);
      assert.match(rlog, /unlocking the network/);
      assert.equal(tables(), '', 'the restore drops the dump\'s lock');
      assert.ok(alive(h.pid), 'the restored tree runs');
    } finally {
      for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});

test('CRIU 4.2\'s inet dump (corpus, --network-lock nftables): the restore drops its table; its tcp-stream images read and both ends of each local connection agree', (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = join(CORPUS, 'inet');
  const inv = decodeImage(join(dir, 'inventory.img')).entries[0];
  assert.equal(restoreUnlockCommands(dir, 1), `nft delete table ${criuTable(inv.dump_criu_run_id)}`);
  const conns = decodeImage(join(dir, 'files.img')).entries.filter((e) => e.type === 'INETSK' && e.isk.proto === 6 && e.isk.dst_port).map((e) => e.isk);
  assert.equal(conns.length, 6);
  const streams = new Map(conns.map((c) => [c, readTcpStream(dir, c.ino, `socket ${c.ino}`)]));
  let unread = 0;
  for (const c of conns) {
    const peer = conns.find((p) => p.src_port === c.dst_port && p.dst_port === c.src_port && p.family === c.family);
    assert.ok(peer, `the peer of ${c.ino} is in the dump`);
    const me = streams.get(c), other = streams.get(peer);
    // what this end has received is what the other has sent and had acknowledged
    assert.equal(me.entry.inq_seq, (other.entry.outq_seq - other.entry.outq_len) >>> 0);
    assert.equal(me.inq.length, me.entry.inq_len);
    const rs = restoreStream(dir, c, `socket ${c.ino}`);
    assert.equal(rs.fields.length, 17);
    assert.equal(rs.fields[0], c.state);
    assert.deepEqual([rs.sport, rs.dport, rs.reuseaddr], [c.src_port, c.dst_port, c.opts.reuseaddr ? 1 : 0]);
    assert.equal(rs.src.length, 16);
    unread += me.entry.inq_len;
  }
  assert.equal(unread, 3000, 'the 1000 and 2000 unread bytes of the corpus program');
});
