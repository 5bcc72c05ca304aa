// Netlink and packet sockets (kinds/netlink.ts, packet.ts, native/restore/kinds/netlink.c, packet.c), in a network
// namespace of the test's own (unshare -n, loopback up): ckpt and the program run in it through nsenter. The
// program checks its own sockets after the restore (RESULT PASS on SIGUSR1): ports, groups, peer, options, rings
// (the mapped one receives a frame), fanout, SOCK_PACKET's device. A dump of the restored program gives the same
// entries. A netlink socket with unread messages, and a ring whose socket is closed, are refused by name (as CRIU),
// the program left running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeImage } from '@ckpt/images';
import { compile, eventually, needPtrace, netNamespace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk } from './restore-lib.mjs';

let ns; // the test's network namespace
before(() => { ns = netNamespace(); });
after(() => ns?.close());

const ckptNs = (args) => ns.ckpt(args);
const launchNs = (prog, args, dir) => ns.launch(prog, args, dir);

/** SIGUSR1, then the program's next RESULT line */
async function check(h, pid) {
  const seen = h.lines().filter((l) => l.startsWith('RESULT')).length;
  process.kill(pid, 'SIGUSR1');
  return eventually(() => {
    const r = h.lines().filter((l) => l.startsWith('RESULT')).slice(seen);
    assert.ok(r.some((l) => l === 'RESULT PASS' || l === 'RESULT FAIL'), 'RESULT line');
    return r.join('\n');
  });
}

/** the netlink and packet entries of a dump, without what differs from one dump to the next */
function sockets(img) {
  const files = decodeImage(join(img, 'files.img')).entries;
  // the kernel lists memberships newest first; they are added again in the image's order (as CRIU): sorted
  const strip = ({ id, ino, ...rest }) => (rest.mclist ? { ...rest, mclist: [...rest.mclist].sort((a, b) => a.type - b.type) } : rest);
  return { nl: files.filter((e) => e.nlsk).map((e) => strip(e.nlsk)), pk: files.filter((e) => e.psk).map((e) => strip(e.psk)), files };
}

test('netlink and packet sockets come back bound, connected, with groups, rings (mapped), fanout and options; images as CRIU writes them', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netlink-packet');
  const prog = compile('netlink-packet', dir);
  const h = await launchNs(prog, [], dir);
  const pids = sessionPids(h.pid);
  try {
    const img = join(dir, 'img');
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
    assert.equal(d.status, 0, d.stderr);
    const { nl, pk, files } = sockets(img);
    assert.equal(nl.length, 4);
    const bound = nl.find((s) => s.portid === 0x7a11);
    assert.deepEqual([bound.protocol, bound.groups, bound.state, bound.ns_id], [0, [1], 7, 2], 'route socket on its port with RTMGRP_LINK');
    assert.ok(nl.some((s) => s.groups[0] === 0x10 && s.portid !== 0), 'kernel-bound socket with RTMGRP_IPV4_IFADDR');
    const conn = nl.find((s) => s.dst_portid === 0x7a11);
    assert.equal(conn.state, 1, 'connected');
    const unb = nl.find((s) => s.protocol === 16);
    assert.deepEqual([unb.portid, unb.ns_id, unb.opts.so_passcred, unb.flags & 0o4000], [0, undefined, true, 0o4000], 'unbound generic socket, nonblocking');
    assert.equal(pk.length, 5);
    const raw = pk.find((s) => s.rx_ring);
    assert.deepEqual([raw.type, raw.protocol, raw.version, raw.reserve, raw.aux_data, raw.orig_dev, raw.ns_id], [3, 0x0300, 1, 64, true, true, 2]);
    assert.deepEqual(raw.rx_ring, { block_size: 4096, block_nr: 2, frame_size: 2048, frame_nr: 4, retire_tmo: 0, sizeof_priv: 0, features: 0 });
    assert.deepEqual(raw.mclist.map((m) => [m.index, m.type, [...(m.addr ?? [])]]).sort((a, b) => a[1] - b[1]), [[raw.ifindex, 0, [1, 0, 0x5e, 0, 0, 0x42]], [raw.ifindex, 1, []]]);
    assert.equal(pk.filter((s) => s.fanout === (42 | (2 << 16))).length, 2, 'two sockets in fanout group 42 (cpu)');
    assert.equal(pk.filter((s) => s.vnet_hdr).length, 1);
    assert.deepEqual(pk.filter((s) => s.type === 2).map((s) => [s.protocol, s.loss, s.ifindex]), [[0xdd86, true, 0]]);
    assert.equal(pk.filter((s) => s.type === 10 && s.ifindex === raw.ifindex).length, 1, 'SOCK_PACKET bound to lo');
    const vmas = decodeImage(join(img, `mm-${h.pid}.img`)).entries[0].vmas;
    const ringVma = vmas.filter((v) => v.status & (1 << 11));
    assert.equal(ringVma.length, 1, 'the mapped ring: a VMA_AREA_SOCKET');
    assert.equal(Number(ringVma[0].shmid), files.find((e) => e.psk?.rx_ring).id, 'its shmid is the socket file id');
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img, [], ckptNs), h.pid);
    assert.equal(await check(h, h.pid), 'RESULT PASS');
    // the restored program's sockets, dumped again: the same entries
    const again = join(dir, 'again');
    const d2 = ckptNs(['dump', '-t', String(h.pid), '-D', again, '-R']);
    assert.equal(d2.status, 0, d2.stderr);
    const s2 = sockets(again);
    const key = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    const byKey = (a) => [...a].sort((x, y) => key(x).localeCompare(key(y)));
    assert.deepEqual(byKey(s2.nl), byKey(nl));
    assert.deepEqual(byKey(s2.pk), byKey(pk));
    assert.equal(await check(h, h.pid), 'RESULT PASS', 'still working after a dump that left it running');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('a netlink socket with unread messages is refused by name (as CRIU); the program runs on', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netlink-queued');
  const prog = compile('netlink-packet', dir);
  const h = await launchNs(prog, ['queued'], dir);
  try {
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, new RegExp(`Can't dump fd \\d+ of task ${h.pid} \\(netlink socket:\\[\\d+\\]\\): it has messages waiting to be read`));
    assert.doesNotMatch(d.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(await check(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('a mapped ring whose packet socket the task closed is refused (as CRIU); the program runs on', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('packet-closed');
  const prog = compile('netlink-packet', dir);
  const h = await launchNs(prog, ['closed'], dir);
  try {
    const d = ckptNs(['dump', '-t', String(h.pid), '-D', join(dir, 'img')]);
    assert.notEqual(d.status, 0);
    assert.match(d.stderr, new RegExp(`task ${h.pid}: mapping [0-9a-f]+-[0-9a-f]+ of socket:\\[\\d+\\]: only the rings of packet sockets open in the tree can be dumped`));
    assert.doesNotMatch(d.stderr, /^\s+at /m, 'no stack trace');
    assert.ok(process.kill(h.pid, 0), 'still running');
  } finally {
    killPids(sessionPids(h.pid));
  }
});
