// `ckpt restore`: images -> plan (plan.ts) -> the native helper (this package's build/Release/ckpt-restore-helper), which
// forks the tree with the original PIDs and hands every task to the restorer blob. The Node process
// never forks the tree itself (it has threads and a huge address space).
import { prepareCgroups, type CgroupMode, type CgroupRestore } from '../cgroups.js';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, readFileSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DumpError, Log } from '../log.js';
import { native } from '../native.js';
import type { RestoreStats } from '../stats.js';
import { buildPlan, encodePlan, RestoreError, type InheritFd } from './plan.js';
import { makeGhosts, removeGhosts, type Made } from '../ghosts.js';
import { LOCK_METHODS, restoreUnlockCommands } from '../netlock.js';
import { dumpedNetnsId, netnsUnlockCommands, NetnsRestore } from '../netns.js';
import { decodeImage, imageFileName } from '@ckpt/images';

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
  /** --join-ns net:PATH|PID: the root task joins that network namespace, whose state is not restored (criu's) */
  joinNet?: string;
  /** --weak-sysctls: a sysctl of the restored network namespace that cannot be written is skipped, with a warning */
  weakSysctls?: boolean;
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
  const ghosts: Made[] = [];
  let netns: NetnsRestore | undefined;
  try {
    return runHelper();
  } catch (e) {
    // logged once here: the caller prints only what was not
    if (e instanceof DumpError && !(e as any).logged) {
      log.error(e.message);
      (e as any).logged = true;
    }
    if (e instanceof RestoreError) {
      log.error(e.message);
      throw Object.assign(new DumpError(e.message), { logged: true });
    }
    throw e;
  } finally {
    netns?.release();
    cgroups?.release();
    rmSync(tmp, { recursive: true, force: true });
    // the helper unlinks each ghost once opened; one still there (a failure before that) is ours to remove
    removeGhosts(ghosts);
  }

  function runHelper(): RestoreResult {
    for (const fd of plan.inheritFds) {
      try { fstatSync(fd); } catch { throw new DumpError(`--inherit-fd: fd ${fd} is not open in the caller`); }
    }
    opts.hooks?.preRestore();
    makeGhosts(plan, ghosts);
    cgroups!.place(plan.tasks);
    // the root task's network namespace (netns.ts), before any of the tree's sockets
    const netnsId = dumpedNetnsId(opts.dir, plan.tasks.map((t) => Number(t.pid)));
    if (netnsId !== undefined || opts.joinNet !== undefined) {
      netns = new NetnsRestore(opts.dir, opts.joinNet === undefined ? netnsId : undefined, opts.joinNet, log, !!opts.weakSysctls);
      (plan.tasks[0] as { netns?: string }).netns = netns.path;
    }
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
    // the dump's network lock, dropped by the helper once every task is restored (native/restore/netlock.c)
    let netUnlock: string;
    try {
      netUnlock = netnsId === undefined ? restoreUnlockCommands(opts.dir, plan.tasks[0].pid) : netnsUnlock(opts.dir, plan.tasks[0].pid);
    } catch (e) {
      throw new DumpError(`network lock of the dump in ${opts.dir}: ${(e as Error).message}`);
    }
    const tHelper = process.hrtime.bigint();
    // the helper's glibc must not register rseq: its memory is gone when the restored task runs
    // (the action scripts it runs get our environment, as criu's do)
    const env: NodeJS.ProcessEnv = { ...(opts.hooks?.scripts.length ? process.env : {}), PATH: process.env.PATH ?? '/usr/bin:/bin', GLIBC_TUNABLES: 'glibc.pthread.rseq=0', ...(process.env.CKPT_FAULT ? { CKPT_FAULT: process.env.CKPT_FAULT } : {}),
        ...(process.env.CKPT_NO_UFFD ? { CKPT_NO_UFFD: '1' } : {}),
        // what the caller asked for at the end of the restore: caller.c
        ...(opts.pidfile ? { CKPT_PIDFILE: opts.pidfile } : {}),
        // a file: the rules of 1,000 connections are more than one environment string may hold (E2BIG)
        ...(netUnlock ? { CKPT_NET_UNLOCK_FILE: unlockFile(tmp, netUnlock) } : {}),
        ...(netnsId !== undefined && opts.hooks?.scripts.length ? { CKPT_NETNS_UNLOCK_HOOK: '1' } : {}),
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

/** the lock of the root task's own network namespace (criu's network_unlock_internal), by the dump's method and run id */
function netnsUnlock(dir: string, rootPid: number): string {
  const inv = decodeImage(join(dir, imageFileName('inventory'))).entries[0] as any;
  const method = LOCK_METHODS[inv.network_lock_method === undefined ? 0 : Number(inv.network_lock_method)] ?? 'iptables';
  return netnsUnlockCommands(rootPid, method, inv.dump_criu_run_id);
}

/** The network unlock commands in a file of the restore's temp dir, for the helper (native/restore/netlock.c). */
function unlockFile(tmp: string, commands: string): string {
  const p = join(tmp, 'net-unlock');
  writeFileSync(p, commands, { mode: 0o600 });
  return p;
}
