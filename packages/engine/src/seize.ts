// Freezing a process tree (ENGINE-NOTES §1): PTRACE_SEIZE + PTRACE_INTERRUPT on every thread,
// root first, DFS, threads before children, rescanning until nothing new appears. And the way
// back: kill while traced, or detach and let the tasks go on.
import { TASK } from '@ckpt/images';
import { native } from './native.js';
import { listChildren, listThreads, readStat, readStatus } from './proc.js';
import { DumpError, Log } from './log.js';

const PTRACE_EVENT_STOP = 128;
const PTRACE_O_TRACESYSGOOD = 1, PTRACE_O_SUSPEND_SECCOMP = 1 << 21;
const SIGKILL = 9, SIGTRAP = 5, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22;
const STOP_SIGNALS = new Set([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);

export interface Thread { tid: number; seccomp: number }
export interface Task {
  pid: number;
  ppid: number; // 0 for the root of the dump
  state: number;
  stopSignal: number;
  threads: Thread[];
  children: Task[];
}

export class Freezer {
  readonly seized = new Set<number>();
  /** processes that were stopped (group stop or queued stop signal) -> the signal that puts them back */
  private readonly stopOnRelease = new Map<number, number>();
  root?: Task;
  /** freezing the tree: how long it may take in all (criu's --timeout; 0: no limit), and until when */
  private freezeLimitMs = 0;
  private freezeDeadline = 0;
  constructor(private log: Log, private timeoutMs = 10000) {}

  /** Seizes the whole tree rooted at pid within limitMs (0: no limit). Throws DumpError naming the task on failure. */
  freezeTree(pid: number, limitMs = this.timeoutMs): Task {
    const st = safeStatus(pid);
    if (!st) throw new DumpError(`Can't dump task ${pid}: no such process`);
    this.freezeLimitMs = limitMs;
    this.freezeDeadline = limitMs ? Date.now() + limitMs : 0;
    try {
      const root = this.freezeProcess(pid, Number(st.PPid), 0);
      if (!root) throw new DumpError(`Task ${pid} exited during the dump`);
      this.root = root;
    } finally {
      this.freezeDeadline = 0;
    }
    return this.root;
  }

  /** called while the tree is being frozen: throws to stop the freeze (a signal to the dump, src/fault.ts) */
  interrupted?: (tid: number) => void;

  /** ms to wait for a task to stop: what is left of the freeze's time (all the time there is without a limit) */
  private waitMs(tid: number): number {
    this.interrupted?.(tid);
    if (!this.freezeDeadline) return this.freezeLimitMs ? this.timeoutMs : 2 ** 31;
    const left = this.freezeDeadline - Date.now();
    if (left <= 0) throw new DumpError(`Timeout reached: the tree was not frozen within ${this.freezeLimitMs / 1000} s (--timeout), at task ${tid}`);
    return left;
  }

  allTasks(t = this.root): Task[] {
    if (!t) return [];
    return [t, ...t.children.flatMap((c) => this.allTasks(c))];
  }

  /** null: a child that ended between being listed and being stopped (as CRIU, looked for again as a zombie) */
  private freezeProcess(pid: number, realPpid: number, imagePpid: number): Task | null {
    const task: Task = { pid, ppid: imagePpid, state: TASK.ALIVE, stopSignal: 0, threads: [], children: [] };
    const lead = this.seizeOne(pid, pid, realPpid, imagePpid !== 0);
    if (!lead) return null;
    task.state = lead.state;
    task.stopSignal = lead.stopSignal;
    task.threads.push({ tid: pid, seccomp: lead.seccomp });
    if (task.state === TASK.ZOMBIE) return task;
    // threads: rescan until stable
    for (let pass = 0; pass < 5; pass++) {
      let fresh = 0;
      for (const tid of listThreads(pid)) {
        if (task.threads.some((t) => t.tid === tid)) continue;
        const t = this.seizeOne(pid, tid, realPpid);
        if (!t) continue; // a thread that ended before it could be stopped was not there
        if (t.state === TASK.ZOMBIE) throw new DumpError(`Zombie thread ${tid} of ${pid} is not supported`);
        if ((t.state === TASK.STOPPED) !== (task.state === TASK.STOPPED)) {
          throw new DumpError(`Individually stopped threads not supported (thread ${tid} of ${pid})`);
        }
        task.threads.push({ tid, seccomp: t.seccomp });
        fresh++;
      }
      if (!fresh) break;
    }
    task.threads.sort((a, b) => (a.tid === pid ? -1 : b.tid === pid ? 1 : a.tid - b.tid));
    // children: the process is frozen, so the list is stable; recurse
    const seen = new Set<number>();
    for (let pass = 0; pass < 5; pass++) {
      let fresh = 0;
      for (const c of listChildren(pid)) {
        if (seen.has(c)) continue;
        const child = this.freezeProcess(c, pid, pid);
        // one that ended meanwhile is our parent's zombie now (or gone, if it reaps none): the next pass sees which
        if (child) {
          seen.add(c);
          task.children.push(child);
        }
        fresh++;
      }
      if (!fresh) break;
    }
    const missed = listChildren(pid).find((c) => !seen.has(c));
    if (missed !== undefined) throw new DumpError(`Task ${pid}: its child ${missed} could not be stopped (its children kept changing while frozen)`);
    return task;
  }

  /**
   * Stops one thread; null when it ended first (as CRIU, which skips it): a thread other than the leader, or a
   * child process (child) whose leader ended: the caller looks for it again.
   */
  private seizeOne(pid: number, tid: number, realPpid: number, child = false): { state: number; stopSignal: number; seccomp: number } | null {
    const n = native();
    const r = n.seize(tid);
    if (r === -3 /* ESRCH: gone */ && tid !== pid) {
      this.log.debug(`Thread ${tid} of ${pid} ended before it was seized`);
      return null;
    }
    if (r === -3 && child && !safeStatus(tid)) {
      this.log.debug(`Task ${tid} ended before it was seized`);
      return null;
    }
    if (r < 0) {
      const st = safeStatus(tid);
      if (st && st.State.startsWith('Z')) {
        this.log.info(`Task ${tid} is a zombie`);
        return { state: TASK.ZOMBIE, stopSignal: 0, seccomp: 0 };
      }
      throw new DumpError(`Can't seize task ${tid}: ${errnoName(-r)}${-r === 1 ? ' (permission denied)' : ''}`);
    }
    this.seized.add(tid);
    this.log.debug(`Seized task ${tid}`);
    this.waitMs(tid);
    n.interrupt(tid);
    let stopSignal = 0;
    for (;;) {
      const w = n.wait(tid, this.waitMs(tid));
      if (w.pid === 0) throw new DumpError(`Timeout reached: task ${tid} did not stop within ${this.freezeLimitMs / 1000} s (--timeout)`);
      if (w.pid < 0) throw new DumpError(`Can't wait for task ${tid}: ${errnoName(-w.pid)}`);
      if ((w.status & 0x7f) !== 0x7f) {
        this.seized.delete(tid);
        if (tid !== pid || child) {
          this.log.debug(`${tid !== pid ? `Thread ${tid} of ${pid}` : `Task ${tid}`} ended before it stopped`);
          return null;
        }
        throw new DumpError(`Task ${tid} exited during the dump (wait status 0x${w.status.toString(16)})`);
      }
      const status = safeStatus(tid);
      if (!status) throw new DumpError(`Task ${tid} vanished during the dump`);
      if (tid === pid && realPpid && Number(status.PPid) !== realPpid) {
        throw new DumpError(`Task ${tid}: parent changed (${status.PPid} != ${realPpid}); pid reused?`);
      }
      const si = n.getSiginfo(tid);
      if (!si) throw new DumpError(`Can't get siginfo of task ${tid}`);
      if (si.code >> 8 !== PTRACE_EVENT_STOP) {
        // a signal-delivery stop: let the signal go, the pending interrupt traps again
        n.cont(tid, si.signo);
        continue;
      }
      const seccomp = Number(status.Seccomp ?? 0);
      const opts = PTRACE_O_TRACESYSGOOD | (seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0);
      const so = n.setOptions(tid, opts);
      if (so < 0) throw new DumpError(`Can't set ptrace options on task ${tid}: ${errnoName(-so)}`);
      const mask = (k: string) => BigInt('0x' + (status[k] ?? '0'));
      const sigPnd = mask('SigPnd'), shdPnd = mask('ShdPnd'), sigBlk = mask('SigBlk');
      if ((sigPnd | shdPnd) & bit(SIGTRAP)) throw new DumpError(`Task ${tid} has a pending SIGTRAP; refusing to dump`);
      // compel_wait_task: every stop in the way of the parasite is let through once (a queued
      // SIGSTOP, an unblocked SIGTSTP, the group stop the task is in); the INTERRUPT still pending
      // traps the task right after, and it is put back into its stop when released.
      let nrStop = 0;
      if (sigPnd & bit(SIGSTOP)) nrStop++;
      if (shdPnd & bit(SIGSTOP)) nrStop++;
      if (sigPnd & bit(SIGTSTP) && !(sigBlk & bit(SIGTSTP))) nrStop++;
      if (shdPnd & bit(SIGTSTP) && !(sigBlk & bit(SIGTSTP))) nrStop++;
      if (si.signo === SIGSTOP || si.signo === SIGTSTP) nrStop++;
      if (nrStop) {
        // from here on the task must get its stop back however the dump ends
        const back = si.signo === SIGSTOP || si.signo === SIGTSTP ? si.signo : SIGSTOP;
        if (!this.stopOnRelease.has(pid)) this.stopOnRelease.set(pid, back);
        for (let i = 0; i < nrStop; i++) {
          const c = n.cont(tid, 0);
          if (c < 0) throw new DumpError(`Can't resume stopped task ${tid} to seize it: ${errnoName(-c)}`);
          const w2 = n.wait(tid, this.waitMs(tid));
          if (w2.pid <= 0 || (w2.status & 0x7f) !== 0x7f) {
            throw new DumpError(`Stopped task ${tid} did not trap after it was resumed (wait ${w2.pid}, status 0x${w2.status.toString(16)})`);
          }
        }
        const si2 = n.getSiginfo(tid);
        stopSignal = si2 && STOP_SIGNALS.has(si2.signo) ? si2.signo : back;
        if (stopSignal === SIGTTIN || stopSignal === SIGTTOU) stopSignal = back;
        this.stopOnRelease.set(pid, stopSignal);
        this.log.debug(`Task ${tid} was stopped (signal ${stopSignal}); ${nrStop} stop(s) skipped`);
        return { state: TASK.STOPPED, stopSignal, seccomp };
      }
      if (si.signo !== SIGTRAP) throw new DumpError(`Task ${tid}: unsupported stop signal ${si.signo}`);
      return { state: TASK.ALIVE, stopSignal: 0, seccomp };
    }
  }

  /**
   * Default end of a dump: SIGKILL every process while still traced, and return once every thread is
   * dead. Each thread's trace is collected as it dies, a leader's after its other threads' (the kernel
   * reports a leader only once they are collected); the zombies then go to their real parents, whose
   * reaping, however slow, the dump does not wait for.
   */
  killAll(): void {
    const n = native();
    const tasks = this.allTasks();
    for (const t of tasks) n.kill(t.pid, SIGKILL);
    // free their memory from here too while they exit (process_mrelease): they are dead sooner
    for (const t of tasks) if (this.seized.has(t.pid)) n.mrelease(t.pid);
    const deadline = Date.now() + this.timeoutMs;
    let traced = 0, dead = 0;
    for (const t of tasks) {
      // the leader last: its exit is reported only once its other threads' are collected
      for (const th of [...t.threads].sort((a, b) => Number(a.tid === t.pid) - Number(b.tid === t.pid))) {
        if (!this.seized.has(th.tid)) continue;
        traced++;
        if (this.collectDead(th.tid, deadline)) dead++;
        else this.log.warn(`Task ${th.tid} is not dead ${this.timeoutMs} ms after SIGKILL (state ${stateOf(th.tid)})`);
        this.seized.delete(th.tid);
      }
    }
    this.log.info(`Killed ${tasks.length} task(s): ${dead} of ${traced} traced thread(s) dead`);
  }

  /** Waits (until deadline) for the traced thread to die; its exit is reported to us, its tracer. */
  private collectDead(tid: number, deadline: number): boolean {
    const n = native();
    for (;;) {
      const w = n.wait(tid, Math.max(0, deadline - Date.now()));
      if (w.pid === tid && (w.status & 0x7f) === 0x7f) continue; // a stop reported before the kill took
      if (w.pid === tid) {
        this.log.debug(`Task ${tid} is dead (wait status 0x${w.status.toString(16)})`);
        return true;
      }
      // not our tracee any more (ECHILD): dead if /proc says so; 0: the deadline passed
      return w.pid < 0 && /^[ZX]?$/.test(stateOf(tid));
    }
  }

  /**
   * --leave-running and every failure: detach; stopped tasks get their stop signal back first.
   * stopAll (--leave-stopped): every task gets SIGSTOP, queued while still traced, so it stops
   * before running an instruction of its own.
   */
  releaseAll(stopAll = false): void {
    const n = native();
    const tasks = this.allTasks();
    // CRIU's compel_resume_task_sig: the stop signal is queued while still traced, so the task
    // stops again as soon as it is detached (also when the dump failed halfway through seizing it)
    for (const [pid, sig] of this.stopOnRelease) {
      const traced = [...this.seized].some((tid) => tid === pid || tgidOf(tid) === pid);
      if (traced) n.kill(pid, sig);
    }
    if (stopAll) for (const t of tasks) if (!this.stopOnRelease.has(t.pid) && t.state !== TASK.ZOMBIE) n.kill(t.pid, SIGSTOP);
    for (const tid of [...this.seized]) {
      const r = n.detach(tid, 0);
      if (r < 0) this.log.warn(`Can't detach task ${tid}: ${errnoName(-r)}`);
      this.seized.delete(tid);
    }
  }
}

const bit = (sig: number) => 1n << BigInt(sig - 1);

/** A thread's state letter from /proc (Z zombie, X dead), '' once it is gone. */
function stateOf(tid: number): string {
  try {
    return readStat(tid)[3];
  } catch {
    return '';
  }
}

function tgidOf(tid: number): number {
  return Number(safeStatus(tid)?.Tgid ?? 0);
}

function safeStatus(pid: number): Record<string, string> | undefined {
  try {
    return readStatus(pid);
  } catch {
    return undefined;
  }
}

const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 5: 'EIO', 13: 'EACCES', 16: 'EBUSY', 22: 'EINVAL' };
export function errnoName(e: number): string {
  return ERRNO[e] ?? `errno ${e}`;
}
