// Seccomp (ENGINE-NOTES §2.3, CRIU's seccomp.c): the filter chain of every thread read with
// PTRACE_SECCOMP_GET_FILTER (+ metadata flags), laid out in seccomp.img as CRIU does: threads by
// tid, each chain oldest first with `prev` pointing at the older filter, the thread's
// seccomp_filter = index of its newest filter. When all threads of a process share the leader's
// chain, only the leader keeps it, flagged TSYNC. A task in filter mode whose filters cannot be
// read is refused: a filter mode without filters would restore an unconfined task.
import { TASK } from '@ckpt/images';
import { native } from './native.js';
import { readStatus } from './proc.js';
import { DumpError } from './log.js';
import type { Task } from './seize.js';

const MODE_DISABLED = 0, MODE_STRICT = 1, MODE_FILTER = 2;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const ERRNO: Record<number, string> = { 1: 'EPERM', 5: 'EIO', 13: 'EACCES', 22: 'EINVAL', 124: 'EMEDIUMTYPE' };

interface Chain { filter: Buffer; flags: number }
interface ThreadSeccomp { tid: number; mode: number; chain: Chain[] /* oldest first */; pos?: number }

export class Seccomp {
  private threads = new Map<number, ThreadSeccomp>();
  readonly filters: any[] = [];

  /** Reads every thread's mode and filters (tasks frozen), applies TSYNC, lays out the image. */
  collect(tasks: Task[]): void {
    for (const task of tasks) {
      if (task.state === TASK.ZOMBIE) continue;
      const ths: ThreadSeccomp[] = [];
      for (const th of task.threads) {
        const mode = Number(readStatus(task.pid, th.tid).Seccomp ?? 0);
        const t: ThreadSeccomp = { tid: th.tid, mode, chain: [] };
        if (mode === MODE_FILTER) {
          const r = native().seccompFilters(th.tid);
          if (r.error !== undefined || !r.filters?.length) {
            const why = r.error !== undefined ? (ERRNO[r.error] ?? `errno ${r.error}`) : 'no filters returned';
            throw new DumpError(`Can't dump seccomp filters of task ${th.tid}: PTRACE_SECCOMP_GET_FILTER failed (${why})`);
          }
          // index 0 is the newest filter; the image wants oldest first
          for (let i = r.filters.length - 1; i >= 0; i--) t.chain.push({ filter: r.filters[i], flags: r.flags![i] ?? 0 });
        } else if (mode !== MODE_DISABLED && mode !== MODE_STRICT) {
          throw new DumpError(`task ${th.tid}: unknown seccomp mode ${mode}`);
        }
        ths.push(t);
        this.threads.set(th.tid, t);
      }
      this.tryTsync(ths.find((t) => t.tid === task.pid)!, ths);
    }
    for (const t of [...this.threads.values()].sort((a, b) => a.tid - b.tid)) {
      if (!t.chain.length) continue;
      t.chain.forEach((c, i) => {
        const e: any = { filter: c.filter, flags: c.flags };
        if (i > 0) e.prev = this.filters.length - 1;
        this.filters.push(e);
      });
      t.pos = this.filters.length - 1;
    }
  }

  private tryTsync(leader: ThreadSeccomp, ths: ThreadSeccomp[]): void {
    if (leader.mode !== MODE_FILTER) return;
    for (const t of ths) {
      if (t === leader) continue;
      if (t.mode !== leader.mode || t.chain.length !== leader.chain.length) return;
      if (t.chain.some((c, i) => !c.filter.equals(leader.chain[i].filter))) return;
    }
    for (const c of leader.chain) c.flags |= SECCOMP_FILTER_FLAG_TSYNC;
    for (const t of ths) {
      if (t === leader) continue;
      t.mode = MODE_DISABLED;
      t.chain = [];
    }
  }

  /** thread_core fields: seccomp_mode (+ seccomp_filter) or nothing when disabled. */
  threadFields(tid: number): any {
    const t = this.threads.get(tid);
    if (!t || t.mode === MODE_DISABLED) return {};
    if (t.mode === MODE_STRICT) return { seccomp_mode: 'strict' };
    return { seccomp_mode: 'filter', seccomp_filter: t.pos };
  }

  imageEntry(): any {
    return this.filters.length ? { seccomp_filters: this.filters } : {};
  }
}
