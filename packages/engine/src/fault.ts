// The steps of a dump and of a restore where each can fail, in one list: for tests, CKPT_FAULT makes one of
// them fail (or wait for a signal); for the user, SIGINT or SIGTERM during a dump interrupts it at the next
// step. Either way the dump rolls back as after any failure (src/dump.ts): every connection out of repair
// mode with its queues, the network lock dropped, every task resumed as it was, one error line naming the
// step and what it was at, a non-zero exit.
//
//   CKPT_FAULT=<step>[:<n>]        the n-th time (default: the first) the step is reached, it fails
//   CKPT_FAULT=pause:<step>[:<n>]  there the dump waits instead (up to 60 s) for SIGINT or SIGTERM
//   CKPT_FAULT=kill-after-freeze   the last task is SIGKILLed once the tree is frozen (the dump fails on it)
//
// Dump steps, in order (src/dump.ts, src/tcp-stream.ts; each failure names the task or connection):
//   lock        the network lock taken (nftables: its table made), nothing frozen yet
//   freeze      the tree frozen (SIGINT/SIGTERM also interrupt the freeze itself)
//   task        before a task's state is read
//   tcp-lock    a connection's lock rules in place, the socket not yet in repair mode
//   tcp-repair  a connection in repair mode (TCP_REPAIR), its queues not yet read
//   tcp-queues  a connection's state and both queues read
//   images      every image written, inventory last; then post-dump, and the tree is killed or resumed:
//               from there on nothing is rolled back (a signal that comes later is reported, not obeyed)
// Restore steps (the helper, native/restore: tasks.c, tracer.c):
//   restore-last-task       the last task fails after the tree is forked
//   restore-last-task-late  the last task fails at its very last step (seccomp), every other task done
//   restore-sockets         every task restored, TCP sockets in repair mode, the network still locked
//   restore-unlocked        the network unlocked and TCP repair off, no task resumed yet
// A failed restore kills what it made; the dump's network lock stays for the next restore unless the
// failure came after the unlock (criu's restore_root_task: out_kill, out_kill_network_unlocked).
import { native } from './native.js';
import { DumpError, type Log } from './log.js';

export const DUMP_STEPS = ['lock', 'freeze', 'task', 'tcp-lock', 'tcp-repair', 'tcp-queues', 'images'] as const;
export type DumpStep = (typeof DUMP_STEPS)[number];

const SIGINT = 2, SIGTERM = 15;
const SIGNAL_NAMES: Record<number, string> = { [SIGINT]: 'SIGINT', [SIGTERM]: 'SIGTERM' };
const PAUSE_MS = 60000;

/** The dump's steps: each at() is where a signal interrupts it and where CKPT_FAULT may make it fail. */
export class DumpSteps {
  private readonly fault?: { step: string; nth: number; pause: boolean };
  private readonly seen = new Map<string, number>();
  private trapped = false;

  constructor(private log: Log, env = process.env.CKPT_FAULT) {
    if (!env || env === 'kill-after-freeze') return;
    const m = /^(pause:)?([a-z-]+)(?::(\d+))?$/.exec(env);
    if (!m || !(DUMP_STEPS as readonly string[]).includes(m[2])) {
      // a restore step, or a typo: this dump has no such step
      if (!m || !m[2].startsWith('restore-')) log.warn(`CKPT_FAULT=${env}: no such dump step (${DUMP_STEPS.join(', ')})`);
      return;
    }
    this.fault = { step: m[2], nth: Number(m[3] ?? 1), pause: !!m[1] };
  }

  get killAfterFreeze(): boolean {
    return process.env.CKPT_FAULT === 'kill-after-freeze';
  }

  /** from here until untrap(), SIGINT and SIGTERM interrupt the dump at its next step */
  trap(): void {
    const r = native().trapSignals([SIGINT, SIGTERM]);
    if (r < 0) throw new DumpError(`cannot handle SIGINT and SIGTERM: errno ${-r}`);
    this.trapped = true;
  }

  /** the signals act as before again; report: a signal that came after the last step is reported */
  untrap(report = true): void {
    if (!this.trapped) return;
    this.trapped = false;
    const sig = native().untrapSignals();
    if (sig && report) this.log.warn(`${signalName(sig)} came after the images were written and the tree was let go: the dump is complete`);
  }

  /** a signal that came: DumpError naming where it stopped the dump */
  interrupted(step: string, what?: string): void {
    const sig = this.trapped ? native().pendingSignal() : 0;
    if (sig) throw new DumpError(`interrupted by ${signalName(sig)} at step ${step}${what ? ` (${what})` : ''}`);
  }

  /** the dump reached step (what: the task or connection): a signal or the injected fault stops it here */
  at(step: DumpStep, what?: string): void {
    this.interrupted(step, what);
    if (this.fault?.step !== step) return;
    const n = (this.seen.get(step) ?? 0) + 1;
    this.seen.set(step, n);
    if (n !== this.fault.nth) return;
    const where = `step ${step}${what ? ` (${what})` : ''}`;
    if (!this.fault.pause) throw new DumpError(`fault injected at ${where} (CKPT_FAULT)`);
    // a test signals us now: the line it waits for goes to stderr whatever the log level
    process.stderr.write(`ckpt: paused at ${where} (CKPT_FAULT)\n`);
    const tick = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + PAUSE_MS; Date.now() < end && !native().pendingSignal();) Atomics.wait(tick, 0, 0, 20);
    this.interrupted(step, what);
    this.log.warn(`no signal within ${PAUSE_MS / 1000} s of the pause at ${where}: the dump goes on`);
  }
}

function signalName(sig: number): string {
  return SIGNAL_NAMES[sig] ?? `signal ${sig}`;
}
