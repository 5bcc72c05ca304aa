// `ckpt restore`: images -> plan (plan.ts) -> the native helper (this package's build/Release/ckpt-restore-helper), which
// forks the tree with the original PIDs and hands every task to the restorer blob. The Node process
// never forks the tree itself (it has threads and a huge address space).
import { prepareCgroups, type CgroupMode, type CgroupRestore } from '../cgroups.js';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, readFileSync, fstatSync, fchmodSync, fchownSync, futimesSync, linkSync, lstatSync, mkdtempSync, openSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync, ftruncateSync, constants as C } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DumpError, Log } from '../log.js';
import { native } from '../native.js';
import type { RestoreStats } from '../stats.js';
import { buildPlan, encodePlan, RestoreError, type Ghost, type InheritFd } from './plan.js';

export { buildPlan, encodePlan, parseInheritFd, RestoreError } from './plan.js';

export interface RestoreOptions {
  dir: string;
  detached?: boolean;
  pidfile?: string;
  shellJob?: boolean;
  extUnixSk?: boolean;
  /** --tcp-close (TCP connections come back closed), --tcp-established (they would come back connected) */
  tcpClose?: boolean; tcpEstablished?: boolean;
  /** --inherit-fd: fds of this process handed to the restored tasks in place of the dumped resources */
  inheritFds?: InheritFd[];
  /** take the file locks of filelocks.img (CRIU's --file-locks; without it they are left out) */
  fileLocks?: boolean;
  /** -s: every task is left stopped (SIGSTOP) before it runs an instruction of its own */
  leaveStopped?: boolean;
  /**
   * --action-script: pre-restore runs here, before the helper; the helper runs the scripts for
   * post-restore and pre-resume while it holds the tree, and post-resume (cwd: workDir)
   */
  hooks?: { preRestore(): void; scripts: string[]; imagesDir: string; workDir: string };
  /** -S (with detached): the restored root becomes the child of our parent, as criu's --restore-sibling */
  sibling?: boolean;
  /** --status-fd: our fd that gets one zero byte once the tree runs (written by the helper) */
  statusFd?: number;
  /** --manage-cgroups (criu's default soft) and --cgroup-root [controller:]/path (src/cgroups.ts) */
  manageCgroups?: CgroupMode;
  cgroupRoots?: { ctl?: string; root: string }[];
  log?: Log;
}

export interface RestoreResult {
  pid: number; tasks: number; threads: number; pagesBytes: number; ms: number; exitCode?: number;
  /** CRIU's restore_stats_entry: forking_time is the tree forked and every task prepared; restore_time includes planning */
  stats: RestoreStats;
}

export function helperPath(): string {
  // this package's build/, from dist/restore/index.js (the startup snapshot's bundle keeps this module's URL)
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/ckpt-restore-helper');
}

export function restore(opts: RestoreOptions): RestoreResult {
  const log = opts.log ?? new Log(2);
  const t0 = process.hrtime.bigint();
  const helper = helperPath();
  if (!existsSync(helper)) {
    const msg = `the restore helper is missing: ${helper} (build it with npm run build)`;
    log.error(msg);
    throw Object.assign(new DumpError(msg), { logged: true });
  }
  let plan: ReturnType<typeof buildPlan>;
  let cgroups: CgroupRestore | undefined;
  try {
    // before the plan: a task may have one of the cgroup directories open
    cgroups = prepareCgroups(opts.dir, opts.manageCgroups ?? 'soft', log, opts.cgroupRoots);
    plan = buildPlan({ dir: opts.dir, detached: opts.detached ?? false, shellJob: opts.shellJob ?? false, leaveStopped: opts.leaveStopped, sibling: opts.sibling, extUnixSk: opts.extUnixSk ?? false, inheritFds: opts.inheritFds, fileLocks: opts.fileLocks, tcpClose: opts.tcpClose, tcpEstablished: opts.tcpEstablished });
  } catch (e) {
    cgroups?.release();
    if (e instanceof RestoreError) {
      log.error(e.message);
      throw Object.assign(new DumpError(e.message), { logged: true });
    }
    throw e;
  }
  const threads = plan.tasks.reduce((s, t) => s + t.threads.length, 0);
  const pagesBytes = plan.tasks.reduce((s, t) => s + t.pagesBytes, 0);
  log.info(`Restoring ${plan.tasks.length} task(s), ${threads} thread(s), ${(pagesBytes / 1048576).toFixed(1)} MiB of pages (root pid ${plan.tasks[0].pid})`);
  const tmp = mkdtempSync(join(tmpdir(), 'ckpt-restore-'));
  const planFile = join(tmp, 'plan');
  const ghosts: { path: string; ino: number }[] = [];
  try {
    return runHelper();
  } catch (e) {
    if (e instanceof DumpError && !(e as any).logged) log.error(e.message);
    if (e instanceof RestoreError) {
      log.error(e.message);
      throw new DumpError(e.message);
    }
    throw e;
  } finally {
    cgroups?.release();
    rmSync(tmp, { recursive: true, force: true });
    // the helper unlinks each ghost once opened; one still there (a failure before that) is ours to remove
    for (const g of ghosts) {
      try { if (lstatSync(g.path).ino === g.ino) unlinkSync(g.path); } catch { /* gone */ }
    }
  }

  function runHelper(): RestoreResult {
    for (const fd of plan.inheritFds) {
      try { fstatSync(fd); } catch { throw new DumpError(`--inherit-fd: fd ${fd} is not open in the caller`); }
    }
    opts.hooks?.preRestore();
    for (const g of plan.ghosts) ghosts.push(makeGhost(g));
    cgroups!.place(plan.tasks);
    writeFileSync(planFile, encodePlan(plan), { mode: 0o600 });
    // inherited fds reach the helper at the same numbers
    const stdio: (string | number)[] = [plan.callerTty ? 'inherit' : 'ignore', 'pipe', 'pipe'];
    if (opts.statusFd !== undefined) {
      // the helper's standard streams are ckpt's channel to it
      if (opts.statusFd <= 2) throw new DumpError(`--status-fd ${opts.statusFd}: ckpt needs an fd other than 0, 1 and 2`);
      try { fstatSync(opts.statusFd); } catch { throw new DumpError(`--status-fd: fd ${opts.statusFd} is not open in the caller`); }
    }
    for (const fd of [...plan.inheritFds, ...(opts.statusFd === undefined ? [] : [opts.statusFd])]) {
      while (stdio.length <= fd) stdio.push('ignore');
      stdio[fd] = fd;
    }
    const tHelper = process.hrtime.bigint();
    // the helper's glibc must not register rseq: its memory is gone when the restored task runs
    // (the action scripts it runs get our environment, as criu's do)
    const env: NodeJS.ProcessEnv = { ...(opts.hooks?.scripts.length ? process.env : {}), PATH: process.env.PATH ?? '/usr/bin:/bin', GLIBC_TUNABLES: 'glibc.pthread.rseq=0', ...(process.env.CKPT_FAULT ? { CKPT_FAULT: process.env.CKPT_FAULT } : {}),
        ...(process.env.CKPT_NO_UFFD ? { CKPT_NO_UFFD: '1' } : {}),
        // what the caller asked for at the end of the restore: caller.c
        ...(opts.pidfile ? { CKPT_PIDFILE: opts.pidfile } : {}),
        ...(opts.statusFd !== undefined ? { CKPT_STATUS_FD: String(opts.statusFd) } : {}),
        ...(opts.hooks?.scripts.length ? {
          CKPT_ACTION_SCRIPTS: opts.hooks.scripts.join('\n'), CKPT_SCRIPT_CWD: opts.hooks.workDir, CRTOOLS_IMAGE_DIR: opts.hooks.imagesDir,
        } : {}) };
    const args = [planFile, String(log.level)];
    const r = plan.sibling ? spawnSibling(helper, args, env, tmp, plan.callerTty, stdio.flatMap((s, i) => (i > 2 && s === i ? [i] : [])))
      : spawnSync(helper, args, { stdio: stdio as any, encoding: 'utf8', maxBuffer: 64 << 20, env });
    for (const line of (r.stderr ?? '').split('\n').filter(Boolean)) {
      if (line.startsWith('Error: ')) log.error(line.slice(7));
      else if (line.startsWith('Warn: ')) log.warn(line.slice(6));
      else log.info(line);
    }
    const pidLine = /^(\d+)$/m.exec(r.stdout ?? '');
    if (r.error) throw new DumpError(`cannot run the restore helper: ${r.error.message}`);
    if (!pidLine) {
      const msg = 'restore failed';
      if (!/Error: /.test(r.stderr ?? '')) log.error(`${msg} (helper ${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`})`);
      throw Object.assign(new DumpError(msg), { logged: true });
    }
    const pid = Number(pidLine[1]);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.info(`Restore finished in ${ms.toFixed(1)} ms`);
    const us = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? 0);
    const stats: RestoreStats = {
      pages_compared: 0, pages_skipped_cow: 0, pages_restored: pagesBytes / 4096,
      forking_time: us('forking_us'), restore_time: Number((tHelper - t0) / 1000n) + us('restore_us'),
    };
    return { pid, tasks: plan.tasks.length, threads, pagesBytes, ms, exitCode: opts.detached ? undefined : r.status ?? 1, stats };
  }
}

/**
 * -S (criu's --restore-sibling): the helper is made the child of our parent (clone3 CLONE_PARENT) and clones the
 * root the same way, so the restored tree is our parent's child. We are not the helper's parent: its output
 * comes through files, its end through a pidfd; success is its root PID line, as always (-S goes with -d).
 * keep: our fds it gets at their numbers (--inherit-fd, --status-fd).
 */
function spawnSibling(helper: string, args: string[], env: NodeJS.ProcessEnv, tmp: string, tty: boolean, keep: number[]): { stdout: string; stderr: string; status: number | null; signal: null; error?: Error } {
  const n = native();
  const out = join(tmp, 'stdout'), err = join(tmp, 'stderr');
  const fds = [tty ? 0 : openSync('/dev/null', 'r'), openSync(out, 'w+', 0o600), openSync(err, 'w+', 0o600)];
  try {
    const pidfd = n.spawnSibling(helper, [helper, ...args], Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`), fds[0], fds[1], fds[2], keep);
    if (pidfd < 0) return { stdout: '', stderr: '', status: null, signal: null, error: new Error(`clone3(CLONE_PARENT): errno ${-pidfd}`) };
    try {
      // the helper bounds each of its own waits; this bounds a helper that hangs
      if (n.pollExit(pidfd, 10 * 60 * 1000) !== 1) throw new DumpError('the restore helper did not end within 10 minutes');
    } finally {
      closeSync(pidfd);
    }
    const stdout = readFileSync(out, 'utf8');
    return { stdout, stderr: readFileSync(err, 'utf8'), status: /^\d+$/m.test(stdout) ? 0 : 1, signal: null };
  } finally {
    for (const fd of fds) if (fd > 2) closeSync(fd);
  }
}

/**
 * A ghost file as CRIU's mkreg_ghost makes it (the data, chunks at their offsets, the size, owner, mode and
 * times), made where nobody else can reach it: in a private directory (0700, next to its path: the same
 * filesystem), created O_EXCL|O_NOFOLLOW, given its owner and mode (setuid bits included) only once its
 * data is complete, and only then linked to its path (which must not exist) for the helper to open. The
 * private directory is gone when this returns, whatever happened.
 */
function makeGhost(g: Ghost): { path: string; ino: number } {
  const fail = (e: unknown) => new DumpError(`cannot create ghost file ${g.path}: ${(e as Error).message}`);
  // the image's size and offsets: exact as numbers, every chunk inside the file
  const size = Number(g.size);
  if (!Number.isSafeInteger(size) || size < 0) throw fail(new Error(`the image gives it size ${g.size}`));
  const out = g.chunks.find((c) => c.off < 0n || c.off + BigInt(c.data.length) > g.size);
  if (out) throw fail(new Error(`the image puts data at offset ${out.off}, beyond its size ${g.size}`));
  let priv: string;
  try {
    priv = mkdtempSync(join(dirname(g.path), '.ckpt-ghost-'));
  } catch (e) {
    throw fail(e);
  }
  let dir: number | undefined, fd: number | undefined;
  try {
    // everything inside goes through our fd of the directory: renaming it or its parent changes nothing
    dir = openSync(priv, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    const tmp = `/proc/self/fd/${dir}/ghost`;
    fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    for (const c of g.chunks) {
      let off = 0;
      while (off < c.data.length) off += writeSync(fd, c.data, off, c.data.length - off, Number(c.off) + off);
    }
    ftruncateSync(fd, size);
    fchownSync(fd, g.uid, g.gid);
    fchmodSync(fd, g.mode);
    if (g.atime && g.mtime) futimesSync(fd, Number(g.atime[0]) + Number(g.atime[1]) / 1e6, Number(g.mtime[0]) + Number(g.mtime[1]) / 1e6);
    const ino = fstatSync(fd).ino;
    linkSync(tmp, g.path);
    return { path: g.path, ino };
  } catch (e) {
    throw fail(e);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (dir !== undefined) {
      try { unlinkSync(`/proc/self/fd/${dir}/ghost`); } catch { /* not made */ }
      closeSync(dir);
    }
    try { rmdirSync(priv); } catch { /* renamed by someone: nothing of ours is left in it */ }
  }
}
