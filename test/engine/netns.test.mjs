// The root task's own network namespace (src/netns.ts, native/rtnl.cc, native/restore/netns.c), as CRIU 4.2:
// progs/netns-state.c unshares one and sets it up (lo, an address, a route, a rule, an iptables-legacy rule, an
// nftables table, sysctls, a TCP connection over lo with bytes in flight both ways). ckpt runs in the test's
// own namespace: the dump writes CRIU's netns-N/netdev-N/ifaddr-N/... images and locks the whole namespace,
// the restore makes a new one from them. The program checks what it can see itself after the restore (RESULT
// PASS on SIGUSR1); the test checks the route, rule and tables through nsenter, and that the lock is gone.
// Then: -R drops the lock; a link ckpt does not restore and a nested namespace are refused by name; a bad
// image fails the restore naming it, leaving no process; --join-ns net:PID joins a namespace as it is; CRIU 4.2 dumping and ckpt restoring and the other
// way round (these two skip, saying why, when there is no CRIU at $CRIU or /tmp/criu-ref/criu-4.2/criu/criu).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, imageFileName } from '@ckpt/images';
import { createRequire } from 'node:module';
import { ROOT, ckpt, compile, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, resultOf, waitGone } from './restore-lib.mjs';

const nat = createRequire(import.meta.url)(join(ROOT, 'packages/engine/build/Release/ckpt_native.node'));
const CRIU = process.env.CRIU || '/tmp/criu-ref/criu-4.2/criu/criu';

/** a command in pid's network namespace */
function inNs(pid, cmd) {
  const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...cmd], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

/** what the program could not check itself: route, rule, both tables; no lock left */
function checkNsState(pid) {
  assert.match(inNs(pid, ['ip', 'route', 'show']), /10\.88\.0\.0\/16 via 10\.77\.0\.2 dev lo/, 'the route');
  assert.match(inNs(pid, ['ip', 'rule', 'show']), /1000:\s+from 10\.77\.0\.9 lookup 100/, 'the rule');
  assert.match(inNs(pid, ['iptables-legacy', '-w', '-S', 'INPUT']), /-A INPUT -s 10\.66\.0\.0\/16 -j DROP/, 'the iptables-legacy rule');
  const nft = inNs(pid, ['nft', 'list', 'ruleset']);
  assert.match(nft, /table inet ckpttest[\s\S]*tcp dport 9999 counter packets \d+ bytes \d+ drop/, 'the nftables table');
  // the conntrack table, read in the namespace with ckpt's own native core (no conntrack tool needed)
  const old = nat.netnsEnter(`/proc/${pid}/ns/net`);
  assert.ok(old >= 0, `netnsEnter: ${old}`);
  let ct;
  try { ct = nat.nfctDump(); } finally { nat.netnsReturn(old); }
  assert.ok(Buffer.isBuffer(ct) && ct.includes(Buffer.from([0x1b, 0x9e])), 'the connection (port 7070) is in the conntrack table');
  assert.doesNotMatch(nft, /CRIU/, 'no network lock left');
}

async function start(dir, args = []) {
  const h = await launch(compile('netns-state', dir), args, dir);
  return { h, pids: sessionPids(h.pid) };
}

test('a root task in its own network namespace: CRIU\'s images, the whole namespace locked, restored with all its state', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netns');
  const { h, pids } = await start(dir);
  try {
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '-v4', '-o', 'dump.log']);
    assert.equal(d.status, 0, d.stderr);
    const inv = decodeImage(join(img, 'inventory.img')).entries[0];
    const ids = decodeImage(join(img, imageFileName('ids', h.pid))).entries[0];
    assert.equal(inv.root_ids.net_ns_id, 2, "inventory: ckpt's own namespaces");
    assert.equal(ids.net_ns_id, 9, "the task's own namespace after ckpt's eight, as CRIU numbers it");
    for (const stem of ['netns', 'netdev', 'ifaddr', 'route', 'route6', 'rule', 'iptables', 'ip6tables', 'nftables']) assert.ok(existsSync(join(img, imageFileName(stem, 9))), stem);
    const lo = decodeImage(join(img, imageFileName('netdev', 9))).entries;
    assert.deepEqual(lo.map((e) => [e.type, e.name, e.mtu, e.flags & 1]), [['LOOPBACK', 'lo', 65000, 1]]);
    const ns = decodeImage(join(img, imageFileName('netns', 9))).entries[0];
    assert.deepEqual([ns.def_conf4.length, ns.all_conf6.length, ns.unix_conf[0].iarg], [30, 42, 77]);
    assert.match(readFileSync(join(img, imageFileName('iptables', 9)), 'utf8'), /-A INPUT -s 10\.66\.0\.0\/16 -j DROP/);
    // the lock (iptables, criu's default) was in place when the tables were saved: the restore brings it back
    assert.match(readFileSync(join(img, imageFileName('nftables', 9)), 'utf8'), /chain CRIU \{/);
    // the connection in the conntrack table (criu's netns-ct: netlink messages; 7070 is 0x1b9e)
    assert.ok(readFileSync(join(img, imageFileName('netns-ct', 9))).includes(Buffer.from([0x1b, 0x9e])), 'the connection is in netns-ct-9.img');
    const socks = decodeImage(join(img, 'files.img')).entries.filter((e) => e.isk).map((e) => e.isk);
    assert.deepEqual(socks.map((s) => s.ns_id), [9, 9, 9], 'sockets of the namespace 9');
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img, ['--tcp-established']), h.pid);
    checkNsState(h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('-R with the nftables lock: the namespace was locked during the dump and is unlocked after', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netns-r');
  const { h } = await start(dir);
  try {
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '--network-lock', 'nftables', '-R']);
    assert.equal(d.status, 0, d.stderr);
    assert.match(readFileSync(join(img, imageFileName('nftables', 9)), 'utf8'), /table inet CRIU-[0-9a-f-]{21} \{[\s\S]*policy drop;[\s\S]*meta mark 0x0000c114 accept/);
    checkNsState(h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('refused by name: a link ckpt does not restore, a nested network namespace; the tree goes on unlocked', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netns-refused');
  const { h } = await start(dir, ['nested']);
  try {
    const img = join(dir, 'img');
    const nested = ckpt(['dump', '-t', String(h.pid), '-D', img, '--tcp-established']);
    assert.notEqual(nested.status, 0);
    assert.match(nested.stderr, /task \d+ is in another network namespace than the root task \d+; nested network namespaces are not supported/);
    assert.doesNotMatch(inNs(h.pid, ['iptables', '-w', '-S']), /CRIU/, 'the lock dropped after the failed dump');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
  const dir2 = workDir('netns-refused-link'); // a log of its own: RESULT lines are the program's
  const { h: h2 } = await start(dir2);
  try {
    assert.equal(inNs(h2.pid, ['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']), '');
    const link = ckpt(['dump', '-t', String(h2.pid), '-D', join(dir2, 'img'), '--tcp-established', '--network-lock', 'nftables']);
    assert.notEqual(link.status, 0);
    assert.match(link.stderr, /link d[01] \(veth\): ckpt restores only the loopback/);
    assert.doesNotMatch(inNs(h2.pid, ['nft', 'list', 'ruleset']), /CRIU/, 'the lock dropped after the failed dump');
    assert.equal(await resultOf(h2, h2.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h2.pid));
  }
});

test('a corrupt image or a failing tool: the restore names it and leaves no process', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netns-bad');
  const { h, pids } = await start(dir);
  try {
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--tcp-established']);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    const route = join(img, imageFileName('route', 9)), good = readFileSync(route);
    writeFileSync(route, 'not a route dump');
    let r = ckpt(['restore', '-D', img, '-d', '--tcp-established']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /route-9\.img: ip route restore: .+/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(await waitGone(pids, 3000), 'no process left');
    writeFileSync(route, good);
    const netdev = join(img, imageFileName('netdev', 9)), nd = readFileSync(netdev);
    writeFileSync(netdev, nd.subarray(0, nd.length - 7));
    r = ckpt(['restore', '-D', img, '-d', '--tcp-established']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /netdev-9\.img: /);
    assert.ok(await waitGone(pids, 3000), 'no process left');
    writeFileSync(netdev, nd);
    assert.equal(restoreOk(img, ['--tcp-established']), h.pid);
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
  }
});

test('--join-ns net:PID: the root task joins that namespace as it is (its state from the images not restored); other types refused by name', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('netns-join');
  const bad = ckpt(['restore', '-D', dir, '--join-ns', 'uts:/proc/self/ns/uts']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--join-ns uts: ckpt joins only network namespaces/);
  // the namespace to join has what the program checks itself (its lo, address and sysctls), not the rest
  const holder = spawn('unshare', ['-n', 'sleep', '100000'], { stdio: 'ignore' });
  const { h, pids } = await start(dir);
  try {
    for (let i = 0; i < 100 && inNs(holder.pid, ['true']) !== ''; i++) spawnSync('sleep', ['0.05']);
    for (const cmd of ['ip link set lo up mtu 65000', 'ip addr add 10.77.0.1/24 dev lo', 'echo 77 > /proc/sys/net/unix/max_dgram_qlen', 'echo 1 > /proc/sys/net/ipv4/conf/lo/forwarding']) {
      assert.equal(inNs(holder.pid, ['sh', '-c', cmd]), '', cmd);
    }
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '--network-lock', 'nftables']);
    assert.equal(d.status, 0, d.stderr);
    await dumpedPidsFree(pids);
    assert.equal(restoreOk(img, ['--tcp-established', '--join-ns', `net:${holder.pid}`]), h.pid);
    const ino = (p) => spawnSync('stat', ['-L', '-c', '%i', `/proc/${p}/ns/net`], { encoding: 'utf8' }).stdout;
    assert.equal(ino(h.pid), ino(holder.pid), 'the program is in the joined namespace');
    assert.doesNotMatch(inNs(holder.pid, ['nft', 'list', 'ruleset']), /ckpttest|CRIU/, 'its nftables not restored there, no lock');
    assert.doesNotMatch(inNs(holder.pid, ['ip', 'route', 'show']), /10\.88\.0\.0/, 'its routes not restored there');
    assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
  } finally {
    killPids(sessionPids(h.pid));
    holder.kill('SIGKILL');
  }
});

function criuOr(t) {
  if (existsSync(CRIU)) return true;
  t.skip(`no CRIU 4.2 at ${CRIU} (build it with ../shared/criu/build.sh or set CRIU=/path/to/criu)`);
  return false;
}

for (const [dumper, restorer] of [['criu', 'ckpt'], ['ckpt', 'criu']]) {
  test(`${dumper} dumps the program and its namespace, ${restorer} restores them`, async (t) => {
    if (!needPtrace(t) || !criuOr(t)) return;
    const dir = workDir(`netns-${dumper}-${restorer}`);
    const { h, pids } = await start(dir);
    try {
      const img = join(dir, 'img');
      mkdirSync(img, { recursive: true });
      const run = (tool, args) => {
        const r = tool === 'ckpt' ? ckpt(args) : spawnSync(CRIU, args, { encoding: 'utf8', timeout: 120000 });
        return { status: r.status, stderr: r.stderr };
      };
      const d = run(dumper, ['dump', '-t', String(h.pid), '-D', img, '--tcp-established', '-v4', '-o', 'dump.log']);
      assert.equal(d.status, 0, `${d.stderr}${dumper === 'criu' ? readFileSync(join(img, 'dump.log'), 'utf8').split('\n').filter((l) => /Error/.test(l)).join('\n') : ''}`);
      await dumpedPidsFree(pids);
      const r = run(restorer, ['restore', '-D', img, '--tcp-established', '-d', '-v4', '-o', 'restore.log']);
      assert.equal(r.status, 0, `${r.stderr}${readFileSync(join(img, 'restore.log'), 'utf8').split('\n').filter((l) => /Error/.test(l)).join('\n')}`);
      checkNsState(h.pid);
      assert.equal(await resultOf(h, h.pid), 'RESULT PASS');
    } finally {
      killPids(sessionPids(h.pid));
    }
  });
}
