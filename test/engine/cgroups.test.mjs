// Cgroups (src/cgroups.ts, native/restore/cgroups.c): a parent and its child in two nested cgroup v2
// directories of the test's own; the dump writes cgroup.img as CRIU does (sets, the directories walked from
// the root task's cgroup with their properties and permissions); the directories are removed, as on
// another machine; the restore (--manage-cgroups soft, criu's default) creates them again with their
// properties and permissions and each task is back in its own; ignore leaves the tasks in ckpt's cgroup,
// none refuses missing directories and strict existing ones, by name. A root task with a cgroup namespace of
// its own (criu's cgns_prefix) comes back in a new one rooted where it was; a nested one is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ckpt, compile, eventually, launch, needPtrace, sleep, workDir } from './helpers.mjs';
import { decodeAll } from './compare.mjs';
import { dumpedPidsFree, killPids, restoreOk, waitGone } from './restore-lib.mjs';

/** a task's cgroup v2 path (the "0::" line of /proc/PID/cgroup) */
const cgOf = (pid) => /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];

/** the cgroup v2 mount and this process's path in it, or why there is none */
function v2() {
  const mnt = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  const own = cgOf('self');
  if (!mnt || own === undefined) return { why: 'no cgroup v2 hierarchy mounted' };
  return { mount: mnt[4], own };
}

/** the last tick task pid printed: its cgroup path as it sees it and (cgroupns) its cgroup namespace's inode */
function lastTick(lines, pid) {
  const l = lines.filter((x) => x.includes(` pid=${pid} `)).at(-1);
  return l && /cg=(\S*)(?: ns=(\d+))?$/.exec(l).slice(1);
}
const lastCg = (lines, pid) => lastTick(lines, pid)?.[0];

/** the child's pid of the last READY line of a program started by h */
const childOf = (h) => Number(/child=(\d+)/.exec(h.lines().filter((l) => l.startsWith('READY')).at(-1))[1]);

async function rmdirs(dirs) {
  for (const d of dirs) {
    for (let i = 0; existsSync(d); i++) {
      try { rmdirSync(d); } catch (e) { if (e.code !== 'EBUSY' || i > 100) throw e; await sleep(50); }
    }
  }
}

/**
 * Runs body(ctx) with a cgroup v2 directory of the test's own, ctx.top (ctx.rel below the mount: ckpt-NAME-PID
 * under this process's cgroup, ctx.own), and a work dir, ctx.dir; without cgroup v2 a skip (a failure under CI).
 * Then, whatever happened, kills the tasks of ctx.pids and removes the directories of ctx.dirs (deepest first)
 * and ctx.top.
 */
async function withCgroup(t, name, body) {
  if (!needPtrace(t)) return;
  const cg = v2();
  if (cg.why) {
    if (process.env.CI) assert.fail(`cgroups test needs cgroup v2: ${cg.why}`);
    t.skip(cg.why);
    return;
  }
  const rel = `${cg.own === '/' ? '' : cg.own}/ckpt-${name}-${process.pid}`;
  const ctx = { dir: workDir(name), own: cg.own, rel, top: cg.mount + rel, pids: [], dirs: [] };
  try {
    await body(ctx);
  } finally {
    killPids(ctx.pids);
    await waitGone(ctx.pids);
    await rmdirs([...ctx.dirs, ctx.top]);
  }
}

test('cgroups: a tree in nested cgroups, dumped, its cgroups removed, restored into them again', (t) => withCgroup(t, 'cgroups', async (ctx) => {
  const { dir, own, rel, top } = ctx;
  const a = `${top}/a`, b = `${a}/b`;
  ctx.dirs = [b, a];
  mkdirSync(b, { recursive: true });
  writeFileSync(`${a}/cgroup.max.descendants`, '5');
  chmodSync(a, 0o750);
  writeFileSync(`${b}/cgroup.max.depth`, '3');
  chmodSync(`${b}/cgroup.max.depth`, 0o664);
  const h = await launch(compile('cgroups', dir));
  const child = childOf(h);
  const pids = ctx.pids = [h.pid, child];
  writeFileSync(`${a}/cgroup.procs`, String(h.pid));
  writeFileSync(`${b}/cgroup.procs`, String(child));
  await eventually(() => {
    assert.equal(lastCg(h.lines(), h.pid), `${rel}/a`);
    assert.equal(lastCg(h.lines(), child), `${rel}/a/b`);
  });

  const img = join(dir, 'img');
  const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
  assert.equal(r.status, 0, r.stderr);
  const imgs = await decodeAll(img);
  const cgi = imgs['cgroup.img'].entries[0];
  assert.equal(imgs['inventory.img'].entries[0].root_cg_set, 1, 'ckpt\'s own set is 1');
  const setOf = (pid) => imgs[`core-${pid}.img`].entries[0].thread_core.cg_set;
  assert.notEqual(setOf(h.pid), setOf(child));
  const member = (id) => cgi.sets.find((s) => s.id === id).ctls.find((c) => c.name === '').path;
  assert.equal(member(setOf(h.pid)), `${rel}/a`);
  assert.equal(member(setOf(child)), `${rel}/a/b`);
  const unified = cgi.controllers.find((c) => c.cnames.length === 1 && c.cnames[0] === '');
  const head = unified.dirs.find((d) => d.dir_name === `${rel}/a`.slice(1));
  assert.ok(head, `the walk starts at the root task's cgroup: ${JSON.stringify(unified.dirs.map((d) => d.dir_name))}`);
  assert.equal(head.properties.find((p) => p.name === 'cgroup.max.descendants').value, '5');
  assert.equal(head.dir_perms.mode & 0o7777, 0o750);
  assert.deepEqual(head.children.map((c) => c.dir_name), ['b']);

  await dumpedPidsFree(pids);
  await rmdirs([b, a]);

  // soft (the default): created again, with properties and permissions; each task in its own
  let root = restoreOk(img);
  assert.equal(root, h.pid);
  assert.equal(cgOf(h.pid), `${rel}/a`);
  assert.equal(cgOf(child), `${rel}/a/b`);
  assert.equal(readFileSync(`${a}/cgroup.max.descendants`, 'utf8').trim(), '5');
  assert.equal(statSync(a).mode & 0o7777, 0o750);
  assert.equal(readFileSync(`${b}/cgroup.max.depth`, 'utf8').trim(), '3');
  assert.equal(statSync(`${b}/cgroup.max.depth`).mode & 0o7777, 0o664);
  const n = h.lines().length;
  await eventually(() => {
    assert.ok(h.lines().length > n + 2, 'the restored tasks tick');
    assert.equal(lastCg(h.lines(), child), `${rel}/a/b`);
  });
  killPids(pids);
  await waitGone(pids);

  // ignore: the tree stays where ckpt is
  root = restoreOk(img, ['--manage-cgroups=ignore']);
  assert.equal(cgOf(h.pid), own);
  assert.equal(cgOf(child), own);
  killPids(pids);
  await waitGone(pids);

  // strict: an existing directory is refused; none: a missing one
  let rr = ckpt(['restore', '-D', img, '-d', '--manage-cgroups=strict']);
  assert.notEqual(rr.status, 0);
  assert.match(rr.stderr, /cgroup dir \S+ already exists \(--manage-cgroups=strict\)/); // the first existing one, as criu
  assert.equal(rr.stderr.trim().split('\n').length, 1, rr.stderr);
  await rmdirs([b, a]);
  rr = ckpt(['restore', '-D', img, '-d', '--manage-cgroups=none']);
  assert.notEqual(rr.status, 0);
  assert.match(rr.stderr, /cgroup dir .*ckpt-cgroups-\d+\/a does not exist/);
  for (const p of pids) assert.ok(!existsSync(`/proc/${p}`), `nothing of the tree runs after a refused restore (${p})`);
}));

const nsOf = (pid) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/cgroup`))[1]);

test('cgroups: a root task in its own cgroup namespace, restored in a new one rooted where it was', (t) => withCgroup(t, 'cgroupns', async (ctx) => {
  const { dir, rel, top } = ctx;
  const nsRoot = `${top}/ns`, inner = `${nsRoot}/inner`;
  ctx.dirs = [inner, nsRoot];
  const prog = compile('cgroupns', dir);
  mkdirSync(inner, { recursive: true });
  const h = await launch(prog, [nsRoot, 'inner']);
  const child = childOf(h);
  let pids = ctx.pids = [h.pid, child];
  const ns0 = nsOf(h.pid);
  assert.notEqual(ns0, nsOf(process.pid));
  await eventually(() => assert.deepEqual(lastTick(h.lines(), child), ['/inner', String(ns0)]));

  const img = join(dir, 'img');
  const r = ckpt(['dump', '-t', String(h.pid), '-D', img, '-v4', '-o', 'dump.log']);
  assert.equal(r.status, 0, r.stderr);
  const imgs = await decodeAll(img);
  const set = imgs['cgroup.img'].entries[0].sets.find((s) => s.id === imgs[`core-${h.pid}.img`].entries[0].thread_core.cg_set);
  const member = set.ctls.find((c) => c.name === '');
  assert.equal(member.path, `${rel}/ns/inner`);
  assert.equal(member.cgns_prefix, `${rel}/ns`.length, 'the namespace root is the cgns prefix of the path, as criu writes it');
  const idsOf = (pid) => imgs[`ids-${pid}.img`].entries[0].cgroup_ns_id;
  assert.notEqual(idsOf(h.pid), imgs['inventory.img'].entries[0].root_ids.cgroup_ns_id);
  assert.equal(idsOf(child), idsOf(h.pid));

  await dumpedPidsFree(pids);
  await rmdirs([inner, nsRoot]);
  const root = restoreOk(img);
  assert.equal(root, h.pid);
  for (const p of pids) assert.equal(cgOf(p), `${rel}/ns/inner`, `task ${p} is back in its cgroup`);
  const ns1 = nsOf(h.pid);
  assert.notEqual(ns1, nsOf(process.pid), 'a cgroup namespace of its own again');
  assert.equal(nsOf(child), ns1, 'the child shares it');
  const n = h.lines().length;
  await eventually(() => {
    assert.ok(h.lines().length > n + 2, 'the restored tasks tick');
    // their own view: "/inner", the namespace rooted at ns/
    for (const p of pids) assert.deepEqual(lastTick(h.lines(), p), ['/inner', String(ns1)]);
  });
  killPids(pids);
  await waitGone(pids);

  // ignore would bring the tree back in ckpt's cgroup namespace: refused by name
  const rr = ckpt(['restore', '-D', img, '-d', '--manage-cgroups=ignore']);
  assert.notEqual(rr.status, 0);
  assert.match(rr.stderr, new RegExp(`task ${h.pid} lived in its own cgroup namespace, which --manage-cgroups=ignore does not restore`));
  assert.equal(rr.stderr.trim().split('\n').length, 1, rr.stderr);

  // a child in a namespace of its own below the root's: refused at dump, by name
  const hn = await launch(prog, [nsRoot, 'inner', 'nested']);
  const cn = childOf(hn);
  pids = ctx.pids = [hn.pid, cn];
  await eventually(() => assert.ok(lastTick(hn.lines(), cn)));
  const rn = ckpt(['dump', '-t', String(hn.pid), '-D', join(dir, 'img-nested'), '-v4', '-o', 'dump.log']);
  assert.notEqual(rn.status, 0);
  assert.match(rn.stderr, new RegExp(`task ${cn} is in another cgroup namespace than the root task ${hn.pid}; nested cgroup namespaces are not supported`));
  assert.ok(existsSync(`/proc/${hn.pid}`), 'a refused dump leaves the tree running');
}));
