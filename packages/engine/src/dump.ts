// `ckpt dump`: freeze the tree, collect every task's state, write the images, then kill the tree
// or let it go on. Any failure, SIGINT or SIGTERM before the tree is let go releases every task exactly as
// it was, every TCP connection out of repair mode and unlocked, and marks the dir unusable (the steps, and
// CKPT_FAULT that makes one fail: src/fault.ts).
import { mkdirSync, rmSync, writeFileSync, readlinkSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { imageFileName, TASK } from '@ckpt/images';
import { native } from './native.js';
import { Freezer, type Task } from './seize.js';
import { listFds, readSmaps, readStat, readTimers, type ProcTimer } from './proc.js';
import { Parasite, syscallAddress, type ThreadFacts, type TtyFacts } from './parasite.js';
import { coreEntries } from './core.js';
import { abortRseqSection, readRseqCs } from './rseq.js';
import { collectVmas, mmEntry } from './mm.js';
import { aioEntries } from './aio.js';
import { dumpPages, pagesDumped, scanRuns } from './pages.js';
import { Files } from './files.js';
import { dumpTtyData, isTerminal, verifyTtys } from './kinds/tty.js';
import { UnixSockets } from './kinds/unix.js';
import { InetSockets } from './kinds/inet.js';
import { Ids, setTreeNetns, treeNetId } from './ids.js';
import { NetnsDump, netnsUnlockCommands } from './netns.js';
import { Seccomp } from './seccomp.js';
import { CgroupDump, type CgroupMode } from './cgroups.js';
import { LOCK_METHODS, NetLock, type NetLockMethod } from './netlock.js';
import { TcpRepair } from './tcp-stream.js';
import { DumpSteps } from './fault.js';
import { DumpGuard } from './dump-guard.js';
import { writeImage } from './images-out.js';
import { DumpError, Log } from './log.js';
import type { DumpStats } from './stats.js';

export interface DumpOptions {
  pid: number;
  dir: string;
  /** what becomes of the tree after a successful dump: killed (default), left running (-R) or stopped (-s) */
  finalState?: 'dead' | 'running' | 'stopped';
  /** --timeout: freezing the tree gives up after this long (0: no limit) */
  timeoutMs?: number;
  /** --ghost-limit: the largest deleted file (bytes on disk) copied into the images */
  ghostLimit?: number;
  /** --link-remap: a deleted file with other names is linked as link_remap.N (else refused) */
  linkRemap?: boolean;
  /** --action-script: pre-dump before freezing, post-dump once the images are written (a failure fails the dump) */
  hooks?: { preDump(): void; postDump(): void; netLock?(): void; netUnlock?(): void };
  shellJob?: boolean;
  extUnixSk?: boolean;
  /** --tcp-close: TCP connections are dumped as they are, to come back closed */
  tcpClose?: boolean;
  /** --skip-in-flight: a listener's connections not yet accepted are left out */
  skipInFlight?: boolean;
  /** --external file[MNT_ID:INO]: files dumped by that name (ext), reopened on restore through --inherit-fd */
  externalFiles?: string[];
  /** --file-locks: dump locks held by the tree into filelocks.img (else a held lock fails the dump) */
  fileLocks?: boolean;
  /** --manage-cgroups (criu's default soft; ignore: the sets without the cgroups' directories) */
  manageCgroups?: CgroupMode;
  /** --cgroup-root [controller:]/path: where the walk of a hierarchy starts (else each set's own path) */
  cgroupRoots?: { ctl?: string; root: string }[];
  /** --network-lock (criu's default iptables): how TCP connections stay silent from the freeze to their restore */
  networkLock?: NetLockMethod;
  /** --tcp-established: established TCP connections are dumped (TCP_REPAIR), not refused */
  tcpEstablished?: boolean;
  log?: Log;
  /** how far the copy of a task's memory is, in bytes: every 64 MiB of a task that has more, and at its end */
  progress?: (p: { pid: number; done: number; total: number }) => void;
  /** test hook: called after the tree is frozen, before state is collected */
  afterFreeze?: (tasks: Task[]) => void;
}

export interface DumpResult {
  tasks: number; threads: number; pagesWritten: number; frozenMs: number; totalMs: number;
  /** what DIR/stats-dump holds */
  stats: DumpStats;
}

const FAILED_MARK = 'ckpt-dump-failed';
const CLOCK_MONOTONIC = 1, CLOCK_BOOTTIME = 7;

export async function dump(opts: DumpOptions): Promise<DumpResult> {
  const log = opts.log ?? new Log(2);
  const t0 = process.hrtime.bigint();
  mkdirSync(opts.dir, { recursive: true });
  rmSync(join(opts.dir, imageFileName('inventory')), { force: true });
  rmSync(join(opts.dir, FAILED_MARK), { force: true });
  const freezer = new Freezer(log);
  // this run's id: the nftables lock's table name and inventory's dump_criu_run_id (criu's criu_run_id)
  const runId = randomUUID();
  // a root task in a network namespace of its own: the namespace is dumped and locked whole (criu's
  // network_lock_internal), no connection is locked by itself
  const netns = NetnsDump.of(opts.pid, opts.networkLock ?? 'iptables', runId, log);
  const netLock = new NetLock(netns ? 'skip' : opts.networkLock ?? 'iptables', runId, log, foreignNetns(opts.pid));
  const steps = new DumpSteps(log);
  const tcp = new TcpRepair(netLock, log, !!opts.tcpEstablished, steps);
  freezer.interrupted = (tid) => steps.interrupted('freeze', `task ${tid}`);
  // should ckpt die, what undoes the lock and repair mode
  const guard = new DumpGuard(log);
  netLock.onLock = (undo) => guard.unlock(undo);
  tcp.beforeRepair = (ino, reuseaddr) => guard.repair(ino, reuseaddr);
  let tFrozen = 0n;
  let result: DumpResult | undefined;
  // names given to deleted files (--link-remap): kept for the restore, removed when the dump fails or the
  // tree goes on running (CRIU's delete_link_remaps)
  const linkRemaps: string[] = [];
  const dropLinkRemaps = () => { for (const p of linkRemaps) rmSync(p, { force: true }); };
  const leaveNetns = () => { netns?.leave(); setTreeNetns(undefined); };
  // criu's network_unlock for a dumped namespace: the network-unlock scripts (a failing one is logged), then its rules
  let netLocking = false;
  const unlockNetns = () => {
    if (!netns || !netLocking) return;
    netLocking = false;
    try {
      opts.hooks?.netUnlock?.();
    } catch (e) {
      log.error((e as Error).message);
    }
    netns.unlock();
  };
  try {
    log.info(`Dumping processes (pid: ${opts.pid})`);
    steps.trap();
    opts.hooks?.preDump();
    if (netns) {
      setTreeNetns({ ownIno: statSync('/proc/self/ns/net').ino, treeIno: netns.ino });
      netLocking = true;
      opts.hooks?.netLock?.(); // in ckpt's namespace, as criu's
      // should ckpt die, the guard drops the namespace's lock as the restore would (told before it is taken)
      for (const l of netnsUnlockCommands(opts.pid, opts.networkLock ?? 'iptables', runId).split('\n')) if (l) guard.unlock(l.split(' '));
      netns.enter();
      netns.lock();
    }
    netLock.lock();
    steps.at('lock');
    const root = freezer.freezeTree(opts.pid, opts.timeoutMs ?? 10000);
    tFrozen = process.hrtime.bigint();
    const tasks = freezer.allTasks();
    log.info(`Frozen ${tasks.length} task(s), ${tasks.reduce((n, t) => n + t.threads.length, 0)} thread(s)`);
    for (const t of tasks) guard.task(t.pid);
    opts.afterFreeze?.(tasks);
    if (steps.killAfterFreeze) killLastTask(tasks, log);
    steps.at('freeze', `task ${root.pid}`);
    let pagesId = 1;
    const seccomp = new Seccomp();
    seccomp.collect(tasks);
    const files = new Files(log, { dir: opts.dir, nextPagesId: () => pagesId++, ghostLimit: opts.ghostLimit, linkRemap: opts.linkRemap, linkRemaps,
      externalFiles: new Set(opts.externalFiles ?? []) });
    const ids = new Ids();
    files.netNsId = treeNetId();
    files.unix = new UnixSockets(files.netNsId, !!opts.extUnixSk);
    files.tcp = tcp;
    files.inet = new InetSockets({ netNsId: files.netNsId, tcpClose: !!opts.tcpClose, tcpEstablished: !!opts.tcpEstablished, skipInFlight: !!opts.skipInFlight, log });
    // the connections the dump will repair, locked in one batch (netlock.ts), not two iptables processes each
    if (opts.tcpEstablished && !opts.tcpClose && netLock.method !== 'skip') netLock.lockConnections(files.inet.connections(tasks.map((t) => t.pid)));
    const pstree: any[] = [];
    const cgroups = new CgroupDump(opts.manageCgroups ?? 'soft', log, opts.cgroupRoots);
    const filesDone = new Set<number>();
    let pagesWritten = 0, pagesScanned = 0, memdumpUs = 0, memwriteUs = 0;
    for (const task of tasks) {
      try {
        const pid = task.pid;
        steps.at('task', `task ${pid}`);
        const stat = readStat(pid);
        if (task.state === TASK.ZOMBIE) {
          // a zombie: its place in the tree and how it died (CRIU's dump_one_zombie), nothing else
          if (task.children.length) throw new DumpError(`task ${pid} is a zombie with children; not supported`);
          pstree.push({ pid, ppid: task.ppid, pgid: Number(stat[5]), sid: Number(stat[6]), threads: [pid] });
          writeImage(opts.dir, 'core', pid, { magic: 'CORE', entries: [{
            mtype: 'X86_64', tc: { task_state: TASK.DEAD, exit_code: Number(stat[52] ?? 0), personality: 0, flags: 0, blk_sigset: 0n, comm: stat[2] },
          }] });
          log.debug(`task ${pid}: zombie, exit code ${stat[52]}`);
          continue;
        }
        pstree.push({ pid, ppid: task.ppid, pgid: Number(stat[5]), sid: Number(stat[6]), threads: task.threads.map((t) => t.tid) });
        const taskIds = ids.forTask(pid);
        const maps = readSmaps(pid);
        const exeId = files.specialFile(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, ''), `/proc/${pid}/exe`);
        const vmas = collectVmas(pid, maps, files);
        // state only the task can tell: run syscalls inside it
        const parasite = new Parasite(pid, syscallAddress(maps));
        const tfs = new Map<number, ThreadFacts>();
        const ttys = new Map<number, TtyFacts>();
        let pf;
        const rseqs = new Map(task.threads.map((th) => [th.tid, readRseqCs(pid, th.tid)]));
        parasite.begin();
        try {
          pf = parasite.processFacts();
          pf.posixTimers = posixTimerEntries(readTimers(pid), parasite);
          for (const th of task.threads) tfs.set(th.tid, parasite.threadFacts(th.tid));
          if (!filesDone.has(taskIds.files_id)) for (const fd of ttyFds(pid)) ttys.set(fd, parasite.ttyFacts(fd, true));
        } finally {
          parasite.finish();
        }
        const cores = coreEntries(task, pf, tfs, seccomp, log);
        for (const [tid, core] of cores) abortRseqSection(pid, tid, core.thread_info.gpregs, rseqs.get(tid));
        cgroups.assign(pid, task.threads.map((t) => t.tid), cores);
        const fdinfo = filesDone.has(taskIds.files_id) ? undefined : files.dumpFds(pid, { shellJob: !!opts.shellJob, fileLocks: !!opts.fileLocks, ttys });
        const fs = files.fsEntry(pid);
        const mm = mmEntry(pid, vmas, exeId, pf.brk, pf.dumpable);
        const aios = aioEntries(pid, vmas);
        if (aios.length) mm.aios = aios;
        const tScan = process.hrtime.bigint();
        const runs = scanRuns(pid, vmas);
        const tCopy = process.hrtime.bigint();
        for (const v of vmas) if (pagesDumped(v)) pagesScanned += Number((v.end - v.start) / 4096n);
        const myPagesId = pagesId++;
        const progress = opts.progress;
        const pm = dumpPages(pid, opts.dir, myPagesId, runs, progress && ((done, total) => progress({ pid, done, total })));
        memdumpUs += Number((tCopy - tScan) / 1000n);
        memwriteUs += Number((process.hrtime.bigint() - tCopy) / 1000n);
        pagesWritten += pm.bytes / 4096;
        for (const [tid, core] of cores) writeImage(opts.dir, 'core', tid, { magic: 'CORE', entries: [core] });
        writeImage(opts.dir, 'ids', pid, { magic: 'IDS', entries: [taskIds] });
        writeImage(opts.dir, 'mm', pid, { magic: 'MM', entries: [mm] });
        writeImage(opts.dir, 'pagemap', pid, { magic: 'PAGEMAP', entries: pm.entries });
        writeImage(opts.dir, 'fs', pid, { magic: 'FS', entries: [fs] });
        if (fdinfo) {
          writeImage(opts.dir, 'fdinfo', taskIds.files_id, { magic: 'FDINFO', entries: fdinfo });
          filesDone.add(taskIds.files_id);
        }
        log.debug(`task ${pid}: ${vmas.length} vmas, ${pm.bytes / 4096} pages`);
      } catch (e) {
        if (e instanceof DumpError) throw e;
        const gone = taskGone(task.pid);
        throw new DumpError(`task ${task.pid}${gone ? ' exited during the dump' : ''}: ${(e as Error).message}`);
      }
    }
    // a connection locked above whose socket was not dumped: the restore would not unlock it
    netLock.unlockUnclaimed();
    files.entries.push(...files.deferredEpoll);
    verifyTtys(files, pstree, !!opts.shellJob);
    checkSession(root, opts);
    files.unix.checkPeers(() => files.newId(), (e) => files.entries.push(e));
    writeImage(opts.dir, 'files', { magic: 'FILES', entries: files.entries });
    if (files.unix.queues.length) writeImage(opts.dir, 'sk-queues', { magic: 'SK_QUEUES', entries: files.unix.queues });
    if (files.pipeData.length) writeImage(opts.dir, 'pipes-data', { magic: 'PIPES_DATA', entries: files.pipeData });
    if (files.locks.length) writeImage(opts.dir, 'filelocks', { magic: 'FILE_LOCKS', entries: files.locks });
    if (files.remaps.length) writeImage(opts.dir, 'remap-fpath', { magic: 'REMAP_FPATH', entries: files.remaps });
    if (files.memfdInodes.length) writeImage(opts.dir, 'memfd', { magic: 'MEMFD_INODE', entries: files.memfdInodes });
    if (files.fifoData.length) writeImage(opts.dir, 'fifo-data', { magic: 'FIFO_DATA', entries: files.fifoData });
    if (files.ttyInfos.length) writeImage(opts.dir, 'tty-info', { magic: 'TTY_INFO', entries: files.ttyInfos });
    const ttyData = dumpTtyData(files, (opts.finalState ?? 'dead') !== 'dead');
    if (ttyData.length) writeImage(opts.dir, 'tty-data', { magic: 'TTY_DATA', entries: ttyData });
    writeImage(opts.dir, 'pstree', { magic: 'PSTREE', entries: pstree });
    const cgEntry = cgroups.imageEntry();
    if (cgEntry) writeImage(opts.dir, 'cgroup', { magic: 'CGROUP', entries: [cgEntry] });
    writeImage(opts.dir, 'seccomp', { magic: 'SECCOMP', entries: [seccomp.imageEntry()] });
    netns?.dump(opts.dir, treeNetId());
    const n = native();
    const [ms, mns] = n.clock(CLOCK_MONOTONIC), [bs, bns] = n.clock(CLOCK_BOOTTIME);
    writeImage(opts.dir, 'timens', 0, {
      magic: 'TIMENS', entries: [{ monotonic: { tv_sec: ms, tv_nsec: mns }, boottime: { tv_sec: bs, tv_nsec: bns } }],
    });
    const tEnd = process.hrtime.bigint();
    const stats = {
      freezing_time: Number((tFrozen - t0) / 1000n), frozen_time: Number((tEnd - tFrozen) / 1000n),
      memdump_time: memdumpUs, memwrite_time: memwriteUs, pages_scanned: pagesScanned, pages_skipped_parent: 0,
      pages_written: pagesWritten, irmap_resolve: 0, pages_lazy: 0, page_pipes: 0, page_pipe_bufs: 0,
      shpages_scanned: files.shmemPagesScanned, shpages_skipped_parent: 0, shpages_written: files.shmemPagesWritten,
    };
    writeImage(opts.dir, 'stats', 'dump', { magic: 'STATS', entries: [{ dump: stats }] });
    // inventory last: a dir without it is not a usable dump
    writeImage(opts.dir, 'inventory', { magic: 'INVENTORY', entries: [{
      img_version: 2, fdinfo_per_id: true, root_ids: ids.rootIds, ns_per_id: true, root_cg_set: cgroups.ownSetId, lsmtype: 'NO_LSM',
      network_lock_method: LOCK_METHODS.indexOf(opts.networkLock ?? 'iptables'), plugins_entry: {}, dump_criu_run_id: runId,
    }] });
    steps.at('images');
    leaveNetns();
    opts.hooks?.postDump();
    result = {
      tasks: tasks.length, threads: tasks.reduce((k, t) => k + t.threads.length, 0), pagesWritten,
      frozenMs: 0, totalMs: 0, stats,
    };
  } catch (e) {
    // criu's network_unlock on a failed dump: every connection out of repair and unlocked, before the tree runs
    tcp.resume();
    netLock.unlock();
    leaveNetns();
    unlockNetns();
    freezer.releaseAll();
    dropLinkRemaps();
    guard.done();
    steps.untrap(false);
    if (existsSync(opts.dir)) {
      rmSync(join(opts.dir, imageFileName('inventory')), { force: true });
      writeFileSync(join(opts.dir, FAILED_MARK), `${(e as Error).message}\n`);
    }
    log.error(`Dumping FAILED: ${(e as Error).message}`);
    throw e;
  }
  // as criu: -R unlocks; -s and a killed tree leave the lock for the restore (and -s the connections in repair)
  // (the guard's part ends where the dump is complete: the lock of a killed or stopped tree is the restore's)
  if (opts.finalState === 'running') {
    tcp.resume();
    netLock.unlock();
    unlockNetns();
    freezer.releaseAll();
    dropLinkRemaps();
    guard.done();
  } else if (opts.finalState === 'stopped') {
    guard.done();
    tcp.release();
    freezer.releaseAll(true);
  } else {
    guard.done();
    freezer.killAll();
    tcp.release();
  }
  steps.untrap();
  const tDone = process.hrtime.bigint();
  result.frozenMs = Number(tDone - tFrozen) / 1e6;
  result.totalMs = Number(tDone - t0) / 1e6;
  log.info('Dumping finished successfully');
  return result;
}

const SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2, SIGEV_THREAD_ID = 4;

/** tc.timers.posix: /proc/PID/timers plus the values only the task can read (timer_gettime, overrun). */
function posixTimerEntries(timers: ProcTimer[], parasite: Parasite): any[] {
  if (!timers.length) return [];
  const vals = parasite.posixTimers(timers.map((t) => t.id));
  return timers.map((t, i) => {
    const v = vals[i];
    let notify = SIGEV_SIGNAL;
    if (t.notify === 'none') notify = SIGEV_NONE;
    else if (t.notify === 'thread') notify = SIGEV_THREAD;
    if (t.toThread) notify |= SIGEV_THREAD_ID;
    const e: any = {
      it_id: t.id, clock_id: t.clockId, si_signo: t.signo, it_sigev_notify: notify, sival_ptr: t.sivalPtr,
      overrun: v.overrun, isec: v.isec, insec: v.insec, vsec: v.vsec, vnsec: v.vnsec,
    };
    if (t.toThread) e.notify_thread_id = t.notifyId;
    return e;
  });
}

/** the tree's network namespace when it is not ours (the lock's rules go there), else undefined */
function foreignNetns(pid: number): string | undefined {
  try {
    const theirs = `/proc/${pid}/ns/net`;
    return statSync(theirs).ino === statSync('/proc/self/ns/net').ino ? undefined : theirs;
  } catch {
    return undefined; // no such task: the freeze says so
  }
}

function taskGone(pid: number): boolean {
  try {
    return /^[ZX]/.test(readStat(pid)[3]);
  } catch {
    return true;
  }
}

/** CKPT_FAULT=kill-after-freeze: SIGKILL the last task once frozen (tests the failure path). */
function killLastTask(tasks: Task[], log: Log): void {
  const victim = tasks[tasks.length - 1];
  log.warn(`fault injection: killing task ${victim.pid}`);
  native().kill(victim.pid, 9);
  native().wait(victim.pid, 1000);
}

/** fds of pid that are terminals (their state is read from inside the task). */
function ttyFds(pid: number): number[] {
  const out: number[] = [];
  for (const fd of listFds(pid)) {
    try {
      if (isTerminal(statSync(`/proc/${pid}/fd/${fd}`))) out.push(fd);
    } catch {
      // closed meanwhile: dumpFds skips it too
    }
  }
  return out;
}

function checkSession(root: Task, opts: DumpOptions): void {
  const stat = readStat(root.pid);
  const sid = Number(stat[6]);
  if (sid !== root.pid && !opts.shellJob) {
    throw new DumpError(`task ${root.pid} is not a session leader and its session ${sid} is outside the dumped tree; use --shell-job (-j)`);
  }
}
