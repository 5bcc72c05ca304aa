// Inet sockets (kinds/inet.ts, native/restore/kinds/inet.c), in a network namespace of the test's own
// (unshare -n, loopback only): ckpt, the program and its address holder run in it through nsenter. The
// program checks its own sockets after the restore (RESULT PASS on SIGUSR1). A restore whose address is
// taken fails with one line naming the address and the task, and leaves no process behind. Established
// connections (--tcp-established) come back with every byte in flight, both ways, and their half-closed states.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeImage, imageFileName } from '@ckpt/images';
import { compile, needPtrace, netNamespace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, resultOf, waitGone } from './restore-lib.mjs';

let ns; // the test's network namespace
before(() => { ns = netNamespace(); });
after(() => ns?.close());

/** the ckpt CLI in the namespace */
const ckptNs = (args) => ns.ckpt(args);
/** a test program in the namespace */
const launchNs = (prog, args, dir) => ns.launch(prog, args, dir);

test('inet sockets of every kind come back bound, listening, connected, with their options; images as CRIU writes them', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('inet');
  const prog = compile('inet-socks', dir);
  const h = await launchNs(prog, [], dir);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    assert.equal(d.status, 0, d.stderr);
    const socks = decodeImage(join(img, 'files.img')).entries.filter((e) => e.isk).map((e) => e.isk);
    const by = (family, type, proto, state) => socks.filter((s) => s.family === family && s.type === type && s.proto === proto && s.state === state);
    assert.equal(by(2, 1, 6, 10).length, 1, 'IPv4 TCP listener');
    assert.equal(by(10, 1, 6, 10).length, 2, 'IPv6 TCP listeners (one v4-mapped)');
    assert.equal(by(2, 1, 6, 7).length, 2, 'bound and unbound TCP');
    assert.equal(by(2, 2, 17, 1).length, 2, 'connected UDP');
    assert.equal(by(2, 2, 136, 7).length, 1, 'UDP-lite');
    assert.equal(by(2, 2, 1, 7).length, 1, 'ICMP');
    assert.equal(by(2, 3, 1, 7).length, 1, 'raw ICMP');
    const l4 = by(2, 1, 6, 10)[0];
    assert.equal(l4.backlog, 7);
    assert.deepEqual(l4.src_addr, [0x0100007f]);
    assert.equal(l4.ns_id, 2, 'a socket sock_diag lists has its net namespace id');
    assert.deepEqual(l4.tcp_opts, { nodelay: true, keepcnt: 9, keepidle: 321, keepintvl: 75 });
    const mapped = by(10, 1, 6, 10).find((s) => !s.v6only);
    assert.deepEqual(mapped.src_addr, [0, 0, 0xffff0000, 0x0100007f]);
    const unb = socks.find((s) => s.opts.so_linger !== undefined);
    assert.equal(unb.ns_id, undefined, 'an unbound socket has none (CRIU: gen_uncon_sk)');
    assert.deepEqual([unb.opts.so_linger, unb.opts.so_mark, unb.opts.so_priority, unb.opts.so_rcvlowat], [17, 77, 5, 9]);
    assert.deepEqual(socks.find((s) => s.type === 3).ip_opts.raw, { icmpv_filter: [0xfffffffe] }); // hdrincl: only IPPROTO_RAW's
    assert.equal(socks.find((s) => s.opts.so_filter).opts.so_filter.length, 1);
    assert.equal(socks.find((s) => s.shutdown).shutdown, 'READ', 'the UDP socket shut down for reading');
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img, [], ckptNs), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('a restore whose address is taken fails naming the address and the task, leaving no process; then it succeeds', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('inet-busy');
  const prog = compile('inet-socks', dir);
  const h = await launchNs(prog, [], dir);
  const pids = sessionPids(h.pid);
  let busy;
  try {
    const port = Number(/^PORT (\d+)/m.exec(h.lines().join('\n'))[1]);
    const img = join(dir, 'img');
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    busy = await launchNs(prog, ['hold', String(port)], dir);
    const r = ckptNs(['restore', '-D', img, '-d']);
    assert.notEqual(r.status, 0);
    const errs = r.stderr.split('\n').filter((l) => /Error/.test(l));
    assert.ok(errs.some((l) => l.includes(`127.0.0.1:${port}`) && l.includes(String(h.pid)) && /Address already in use/.test(l)), r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    assert.ok(await waitGone(pids, 3000), 'no restored process is left');
    killPids([busy.pid]);
    await waitGone([busy.pid]);
    assert.equal(restoreOk(img, [], ckptNs), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    if (busy) killPids([busy.pid]);
    killPids(sessionPids(h.pid));
  }
});

test('a TCP connection is refused at dump unless --tcp-established or --tcp-close; with --tcp-close both ends come back closed', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('inet-tcp-close');
  const prog = compile('inet-conn', dir);
  const h = await launchNs(prog, [], dir);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const refused = ckptNs(['dump', '-t', String(h.pid), '-D', img, '-R']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, new RegExp(`Can't dump fd \\d+ of task ${h.pid} \\(IPv4 socket:\\[\\d+\\]\\): .*--tcp-established`));
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', img, '--tcp-close']);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    const r = ckptNs(['restore', '-D', img, '-d']);
    assert.notEqual(r.status, 0, 'a connection in the images needs --tcp-close on restore too');
    assert.match(r.stderr, /connected TCP socket is in the images; restore with --tcp-established \(or --tcp-close/);
    assert.ok(await waitGone(pids, 3000));
    assert.equal(restoreOk(img, ['--tcp-close'], ckptNs), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('--tcp-established: connections with data in flight both ways and a half-closed one come back with every byte', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('inet-established');
  const prog = compile('tcp-est', dir);
  const h = await launchNs(prog, [], dir);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '-v4', '-o', 'dump.log']);
    assert.equal(d.status, 0, d.stderr);
    const socks = decodeImage(join(img, 'files.img')).entries.filter((e) => e.isk).map((e) => e.isk);
    assert.deepEqual(socks.map((s) => s.state).sort((a, b) => a - b), [1, 1, 5, 8], 'two established, fin-wait2, close-wait');
    const streams = socks.map((s) => decodeImage(join(img, imageFileName('tcp-stream', s.ino))).entries[0]);
    const [sentA1, sentA2] = /^SENT (\d+) (\d+)/m.exec(h.lines().join('\n')).slice(1).map(Number);
    const inflight = (len) => streams.reduce((sum, e) => sum + Number(e[len]), 0);
    assert.equal(inflight('inq_len') + inflight('outq_len'), sentA1 + sentA2 + 5000, 'every byte written is in one receive or send queue');
    assert.ok(streams.filter((e) => e.outq_len > 0).length >= 1 && streams.filter((e) => e.inq_len > 0).length >= 3, 'data in both kinds of queue');
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img, ['--tcp-established'], ckptNs), h.pid);
    const rules = ns.run('iptables', ['-w', '-S']);
    assert.doesNotMatch(rules.stdout, /DROP/, 'the network lock is dropped after the restore');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});
