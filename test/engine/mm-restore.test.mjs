// Memory state a restore must bring back as it was (ZDTM's thp_disable, maps_file_prot, maps11, memfd04/05):
// each program reports its own view every tick; after dump and restore the ticks must show the same state,
// and /proc what the kernel holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ckpt, compile, decodeDir, eventually, launch, needPtrace, sessionPids, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids, restoreOk, ticks, until } from './restore-lib.mjs';

/** Starts progs/NAME.c, checks its ticks with check(lines) before the dump, dumps it, (checks the images
 * with images(decoded), when given,) restores it and checks the ticks it prints after with check(lines, pids)
 * again; returns nothing (asserts). */
async function roundTrip(t, name, args, check, images) {
  if (!needPtrace(t)) return;
  const dir = workDir(name);
  const h = await launch(compile(name, dir), args.map((a) => a.replace('DIR', dir)));
  let pids = [h.pid];
  try {
    const unsupported = h.lines().find((l) => / unsupported$/.test(l));
    if (unsupported) {
      if (process.env.CI) assert.fail(`${name}: this kernel lacks what it tests`);
      t.skip(`${name}: this kernel lacks what it tests`);
      return;
    }
    await until(() => ticks(h.lines()).length >= 2, 5000, `${name} ticks`);
    pids = sessionPids(h.pid);
    check(h.lines().filter((l) => l.startsWith('tick')), pids);
    const img = join(dir, 'img');
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img]);
    assert.equal(d.status, 0, d.stderr);
    if (images) images(await decodeDir(img));
    await dumpedPidsFree(pids);
    const n = h.lines().length;
    assert.equal(restoreOk(img), h.pid);
    await eventually(() => {
      const after = h.lines().slice(n).filter((l) => l.startsWith('tick'));
      assert.ok(after.length >= 3, `${name} goes on after the restore: ${after.join('|')}`);
      check(after, pids);
    });
  } finally {
    killPids(pids);
  }
}

const every = (lines, re) => assert.ok(lines.length && lines.every((l) => re.test(l)), lines.join('\n'));
const status = (pid, key) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

test('PR_SET_THP_DISABLE stays set (mm thp_disabled)', (t) => roundTrip(t, 'mm-thp', [], (lines, [pid]) => {
  every(lines, /^tick \d+ thp_disabled=1$/);
  assert.equal(status(pid, 'THP_enabled'), '0');
}));

test('a file mapping keeps its open mode: MAP_SHARED of an O_RDWR file can be made writable, of O_RDONLY not (vma fdflags)', (t) =>
  roundTrip(t, 'mm-file-prot', ['DIR/mapped.bin'], (lines, [pid]) => {
    every(lines, /^tick \d+ rw_page=[a-z] ro_page=mprotect-ok ro_file=Permission denied$/);
    // the map_files links show the open modes (0600 read-write, 0400 read-only) the mappings were made through
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('/mapped.bin'));
    const modes = maps.map((l) => (lstatSync(`/proc/${pid}/map_files/${l.split(' ')[0]}`).mode & 0o777).toString(8)).sort();
    assert.deepEqual(modes, ['400', '600', '600'], maps.join('\n'));
  }));

test('MAP_DROPPABLE memory comes back zeroed and droppable; MADV_WIPEONFORK keeps the data, wiped in children', (t) => {
  let dumped = false;
  return roundTrip(t, 'mm-droppable', [], (lines, pids) => {
    // before the dump the kernel may drop the droppable page; after the restore it is zero (its pages are not dumped)
    every(lines, dumped ? /^tick \d+ droppable=zero wipeonfork=data fork=zero child=zero$/ : /^tick \d+ droppable=(data|zero) wipeonfork=data fork=zero child=zero$/);
    dumped = true;
    for (const pid of pids) {
      const flags = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n').filter((l) => l.startsWith('VmFlags:'));
      assert.ok(flags.some((l) => / dp( |$)/.test(l) && / wf( |$)/.test(l)), `task ${pid}: a droppable VMA`);
      assert.ok(flags.some((l) => !/ dp( |$)/.test(l) && / wf( |$)/.test(l)), `task ${pid}: a wipe-on-fork VMA`);
    }
  });
});

test('a memfd stays executable through its fd (memfd_create\'s own file, not a reopened writer: no ETXTBSY)', (t) =>
  roundTrip(t, 'mm-memfd-exec', [], (lines, [pid]) => {
    every(lines, /^tick \d+ exec=0 shared=#$/);
    // mapped MAP_SHARED through the read-write fd, MAP_PRIVATE through a read-only reopen of it
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('/memfd:mm-memfd-exec (deleted)'));
    const modes = maps.map((l) => `${l.split(' ')[1]} ${(lstatSync(`/proc/${pid}/map_files/${l.split(' ')[0]}`).mode & 0o777).toString(8)}`).sort();
    assert.deepEqual(modes, ['rw-p 400', 'rw-s 600'], maps.join('\n'));
  }));

test('shared anonymous memory reopened through map_files stays one inode with its mappings (a memfd inode, not a ghost file)', (t) =>
  roundTrip(t, 'mm-shmem-fd', [], (lines) => every(lines, /^tick \d+ zero=ok anon=ok$/), (imgs) => {
    // both fds are MEMFD entries of the inodes of their mappings, named as the mappings are (CRIU's is_memfd)
    const fds = imgs['files.img'].entries.filter((e) => e.type === 'MEMFD' && Number(e.memfd.flags) & 2 /* O_RDWR */);
    const inodes = new Map(imgs['memfd.img'].entries.map((m) => [Number(m.inode_id), m]));
    assert.deepEqual(fds.map((e) => [inodes.get(Number(e.memfd.inode_id))?.name, Number(inodes.get(Number(e.memfd.inode_id))?.size)]).sort((x, y) => x[1] - y[1]),
      [['/dev/zero', 2 * 4096], ['/dev/zero', 3 * 4096]]);
    assert.equal(inodes.size, 2, 'one inode each, shared by the fd and the mappings');
    assert.deepEqual(Object.keys(imgs).filter((f) => f.startsWith('ghost-file') || f.startsWith('remap-fpath')), []);
  }));

test('private pages shared copy-on-write by parent, child and grandchild stay shared, the rest stays apart (premap)', (t) =>
  roundTrip(t, 'mm-cow', ['DIR/cow.bin'], (lines, pids) => {
    assert.equal(pids.length, 3, `parent, child and grandchild: ${pids}`);
    // anon pages 0-3, 5: all share 0; the child and the grandchild 1 and 2; parent and child 3; the child
    // dropped 5 (the grandchild inherited that: neither has a page); file page 0 a private copy of all
    // three, page 1 the child's, inherited by the grandchild
    every(lines, /^tick \d+ data=ok anon=aaa,abb,abb,aab,a-- file=aaa,abb$/);
  }));

/** Runs fn with at least `need` free huge pages of the default size: raises vm.nr_hugepages for it if it must
 * (as ZDTM does), and puts it back after. */
async function withHugePages(need, fn) {
  const meminfo = (k) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const knob = '/proc/sys/vm/nr_hugepages';
  const before = Number(readFileSync(knob, 'utf8'));
  const lack = need - meminfo('HugePages_Free');
  if (lack > 0) writeFileSync(knob, String(before + lack));
  try {
    return await fn();
  } finally {
    if (lack > 0) writeFileSync(knob, String(before));
  }
}

test('hugetlb memory comes back on huge pages: private (copy-on-write with a child, untouched pages), shared, memfd', (t) =>
  withHugePages(6, () => roundTrip(t, 'mm-hugetlb', [], (lines, pids) => {
    every(lines, /^tick \d+ data=ok child=ok$/);
    for (const pid of pids) {
      const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-)/);
      const huge = smaps.filter((v) => /^VmFlags:.* ht( |$)/m.test(v) && /^KernelPageSize:\s+2048 kB/m.test(v));
      assert.equal(huge.length, 4, `task ${pid}: four hugetlb mappings\n${huge.map((v) => v.split('\n')[0]).join('\n')}`);
    }
  })));

test('MAP_LOCKED memory (populated by mmap) gets its pages back and stays locked', (t) =>
  roundTrip(t, 'mm-locked', [], (lines, [pid]) => {
    every(lines, /^tick \d+ data=ok$/);
    const at = /READY pid=\d+ at=([0-9a-f]+)/.exec(readFileSync(join(dirname(readlinkSync(`/proc/${pid}/exe`)), 'out.log'), 'utf8'))[1];
    const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    const vma = smaps.slice(smaps.indexOf(`${at}-`));
    assert.match(/^VmFlags:.*$/m.exec(vma)[0], / lo( |$)/, 'VM_LOCKED');
  }));

test('guard pages (MADV_GUARD_INSTALL) are installed again, in anonymous and file mappings', (t) =>
  roundTrip(t, 'mm-guard', ['DIR/guarded.bin'], (lines) => every(lines, /^tick \d+ guards=ok data=ok$/)));
