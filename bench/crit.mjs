// Times our crit against upstream's python crit (when installed) on large
// generated inputs and on small real images, and prints the figures and ratios.
//   node bench/crit.mjs [--runs N] [--python /usr/bin/crit]
// Large inputs: a 200k-entry pagemap, a 20k-VMA mm, a 300-task image dir.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeImage } from '@ckpt/images';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench/out/crit');
const OURS = join(ROOT, 'node_modules/.bin/crit');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const RUNS = Number(opt('--runs', 5));
const PY = opt('--python', '/usr/bin/crit');
const hasPy = existsSync(PY);
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

mkdirSync(OUT, { recursive: true });
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

function pagemap(n) {
  const entries = [{ pages_id: 1 }];
  for (let i = 0; i < n; i++) entries.push({ vaddr: 0x7f0000000000n + BigInt(i) * 0x3000n, compat_nr_pages: 0, flags: i % 3 ? 4 : 6, nr_pages: 1 + (i % 2) });
  return { magic: 'PAGEMAP', entries };
}

function mm(nVmas, exeId = 1) {
  const vmas = [];
  for (let i = 0; i < nVmas; i++) {
    const start = 0x7f0000000000n + BigInt(i) * 0x4000n;
    vmas.push({ start, end: start + 0x2000n, pgoff: i % 4 ? 0 : 0x1000 * i, shmid: i % 4 ? 0 : exeId, prot: 1 + (i % 7), flags: i % 4 ? 0x22 : 2, status: i % 4 ? (1 | (1 << 9)) : (1 | (1 << 6)), fd: -1 });
  }
  return {
    magic: 'MM',
    entries: [{ mm_start_code: 0x400000, mm_end_code: 0x500000, mm_start_data: 0x600000, mm_end_data: 0x700000, mm_start_stack: 0x7ffc0000, mm_start_brk: 0x800000, mm_brk: 0x900000, mm_arg_start: 1, mm_arg_end: 2, mm_env_start: 3, mm_env_end: 4, exe_file_id: exeId, mm_saved_auxv: Array.from({ length: 40 }, (_, i) => i), vmas, dumpable: 1 }],
  };
}

function core(pid, comm) {
  const regs = Object.fromEntries(['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'].map((r, i) => [r, pid * 100 + i]));
  return {
    magic: 'CORE',
    entries: [{
      mtype: 'X86_64',
      thread_info: { clear_tid_addr: 0, gpregs: { ...regs, mode: 'NATIVE' }, fpregs: { cwd: 0, swd: 0, twd: 0, fop: 0, rip: 0, rdp: 0, mxcsr: 0, mxcsr_mask: 0, st_space: Array(32).fill(0), xmm_space: Array(64).fill(0), padding: Array(24).fill(0) } },
      tc: { task_state: 1, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0, comm, sigactions: Array.from({ length: 64 }, () => ({ sigaction: 0, flags: 0, restorer: 0, mask: 0 })) },
      thread_core: { futex_rla: 0, futex_rla_len: 0, creds: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0, cap_inh: [0, 0], cap_prm: [0, 0], cap_eff: [0, 0], cap_bnd: [0, 0], secbits: 0 } },
    }],
  };
}

function write(name, doc) {
  const p = join(OUT, name);
  if (!existsSync(p)) writeFileSync(p, encodeImage(doc));
  return p;
}

function treeDir(nTasks) {
  const dir = join(OUT, `tree-${nTasks}`);
  if (existsSync(join(dir, 'pstree.img'))) return dir;
  mkdirSync(dir, { recursive: true });
  const tasks = [];
  for (let i = 0; i < nTasks; i++) {
    const pid = 1000 + i;
    tasks.push({ pid, ppid: i === 0 ? 0 : 1000 + Math.floor((i - 1) / 4), pgid: 1000, sid: 1000, threads: [pid] });
    writeFileSync(join(dir, `core-${pid}.img`), encodeImage(core(pid, `task-${i}`)));
    writeFileSync(join(dir, `ids-${pid}.img`), encodeImage({ magic: 'IDS', entries: [{ vm_id: pid, files_id: pid, fs_id: pid, sighand_id: pid }] }));
    writeFileSync(join(dir, `fdinfo-${pid}.img`), encodeImage({ magic: 'FDINFO', entries: [0, 1, 2, 3].map((fd) => ({ id: 1 + (fd % 2), flags: 0, type: 'REG', fd })) }));
    writeFileSync(join(dir, `fs-${pid}.img`), encodeImage({ magic: 'FS', entries: [{ cwd_id: 1, root_id: 2, umask: 18 }] }));
    writeFileSync(join(dir, `mm-${pid}.img`), encodeImage(mm(40)));
    writeFileSync(join(dir, `pagemap-${pid}.img`), encodeImage(pagemap(30)));
  }
  writeFileSync(join(dir, 'pstree.img'), encodeImage({ magic: 'PSTREE', entries: tasks }));
  writeFileSync(join(dir, 'files.img'), encodeImage({ magic: 'FILES', entries: [1, 2].map((id) => ({ type: 'REG', id, reg: { id, flags: 0, pos: 0, fown, name: id === 1 ? '/usr/bin/prog' : '/' } })) }));
  return dir;
}

function timeOnce(cmd, argv, env = process.env) {
  const t0 = process.hrtime.bigint();
  const r = GNU_TIME
    ? spawnSync(GNU_TIME, ['-f', '%M', cmd, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26, env })
    : spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) return { ms, ok: false, err: r.stderr.toString().split('\n').slice(-3).join(' ') };
  const rssKb = GNU_TIME ? Number(r.stderr.toString().trim().split('\n').pop()) : NaN;
  return { ms, ok: true, rssKb };
}

// medians of RUNS runs each, ours and upstream's taking turns (after one
// unmeasured run each) so that this VM's drifts in speed fall on both alike
function measurePair(a, b, argv) {
  const runs = [[], []];
  const tools = [a, b];
  for (let i = -1; i < RUNS; i++) {
    tools.forEach((t, k) => {
      if (!t || runs[k].err) return;
      const r = timeOnce(t.cmd, argv, t.env);
      if (!r.ok) runs[k].err = r.err;
      else if (i >= 0) runs[k].push(r);
    });
  }
  return runs.map((rs) => {
    if (rs.err) return { ok: false, err: rs.err };
    if (rs.length === 0) return { ok: false, err: 'n/a' };
    rs.sort((x, y) => x.ms - y.ms);
    return { ok: true, ms: rs[Math.floor(rs.length / 2)].ms, rssKb: Math.max(...rs.map((r) => r.rssKb)) };
  });
}

const pm = write('pagemap-200k.img', pagemap(200000));
const bigMm = write('mm-20k.img', mm(20000));
const tree = treeDir(300);
const small = join(ROOT, 'examples/loop-static');
const cases = [
  ['decode 200k-entry pagemap', ['decode', '-i', pm]],
  ['decode --pretty 200k-entry pagemap', ['decode', '-i', pm, '--pretty']],
  ['show 200k-entry pagemap', ['show', pm]],
  ['decode 20k-VMA mm', ['decode', '-i', bigMm]],
  ['decode --pretty 20k-VMA mm', ['decode', '-i', bigMm, '--pretty']],
  ['show 20k-VMA mm', ['show', bigMm]],
  ['x ps (300 tasks)', ['x', tree, 'ps']],
  ['x mems (300 tasks)', ['x', tree, 'mems']],
  ['x fds (300 tasks)', ['x', tree, 'fds']],
  ['x rss (300 tasks)', ['x', tree, 'rss']],
  ['small: decode pstree.img', ['decode', '-i', join(small, 'pstree.img')]],
  ['small: show core', ['show', join(small, 'core-6433.img')]],
  ['small: show mm', ['show', join(small, 'mm-6433.img')]],
  ['small: x ps', ['x', small, 'ps']],
  ['small: x mems', ['x', small, 'mems']],
];

console.log(`crit benchmark: median of ${RUNS} runs, ours and upstream taking turns; peak RSS from GNU time${GNU_TIME ? '' : ' (not installed: no RSS)'}`);
console.log(`ours: ${OURS}\nupstream: ${hasPy ? PY + ' (' + execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'criu']).toString() + ')' : 'not installed'}\n`);
const pad = (s, n) => String(s).padEnd(n);
// what no Node program goes below here, which bounds any speed-up (without
// NODE_EXTRA_CA_CERTS, which crit's launcher sets aside: Node would load a CA bundle)
const bare = { ...process.env };
delete bare.NODE_EXTRA_CA_CERTS;
const [floor] = measurePair({ cmd: process.execPath, env: bare }, null, ['-e', '0']);
console.log(`start-up floor: node -e 0 takes ${floor.ms.toFixed(0)} ms\n`);
console.log(`${pad('case', 38)}${pad('ours ms', 10)}${pad('ours MB', 9)}${pad('python ms', 11)}${pad('python MB', 11)}speed-up`);
for (const [label, argv] of cases) {
  const [a, b] = measurePair({ cmd: OURS }, hasPy ? { cmd: PY } : null, argv);
  const mb = (r) => (r.ok && !Number.isNaN(r.rssKb) ? (r.rssKb / 1024).toFixed(0) : '-');
  const ratio = a.ok && b.ok ? (b.ms / a.ms).toFixed(1) + 'x' : b.ok ? '' : `(python: ${b.err?.slice(0, 60)})`;
  console.log(`${pad(label, 38)}${pad(a.ok ? a.ms.toFixed(0) : 'FAIL ' + a.err, 10)}${pad(mb(a), 9)}${pad(b.ok ? b.ms.toFixed(0) : '-', 11)}${pad(mb(b), 11)}${ratio}`);
}
