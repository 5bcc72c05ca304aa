// core-TID.img entries (ENGINE-NOTES §3.4): registers, task and thread state.
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { readStat, readStatus } from './proc.js';
import { readFpRegs, readGpRegs } from './regs.js';
import type { ProcessFacts, ThreadFacts } from './parasite.js';
import type { Task } from './seize.js';
import { DumpError } from './log.js';
import type { Log } from './log.js';
import type { Seccomp } from './seccomp.js';

const SCHED_RESET_ON_FORK = 0x40000000, SCHED_DEADLINE = 6;
const GDT_TLS = [12, 13, 14];
const SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6;

/** The 3 GDT TLS entries of a thread (PTRACE_GET_THREAD_AREA), as CRIU's user_desc_t. */
function tlsEntries(tid: number): any[] {
  return GDT_TLS.map((entry_number) => {
    const b = native().threadArea(tid, entry_number);
    if (!b) {
      return { entry_number, base_addr: 0, limit: 0, seg_32bit: false, contents_h: false, contents_l: false,
        read_exec_only: true, limit_in_pages: false, seg_not_present: true, usable: false };
    }
    const bits = b.readUInt32LE(12);
    return {
      entry_number: b.readUInt32LE(0), base_addr: b.readUInt32LE(4), limit: b.readUInt32LE(8),
      seg_32bit: (bits & 1) !== 0, contents_h: (bits & 4) !== 0, contents_l: (bits & 2) !== 0,
      read_exec_only: (bits & 8) !== 0, limit_in_pages: (bits & 16) !== 0, seg_not_present: (bits & 32) !== 0,
      usable: (bits & 64) !== 0,
    };
  });
}

function capPair(hex: string | undefined): number[] {
  const v = BigInt('0x' + (hex ?? '0'));
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

function creds(pid: number, tid: number, secbits: number): any {
  const s = readStatus(pid, tid);
  const [uid, euid, suid, fsuid] = (s.Uid ?? '0 0 0 0').split(/\s+/).map(Number);
  const [gid, egid, sgid, fsgid] = (s.Gid ?? '0 0 0 0').split(/\s+/).map(Number);
  const c: any = {
    uid, gid, euid, egid, suid, sgid, fsuid, fsgid,
    cap_inh: capPair(s.CapInh), cap_prm: capPair(s.CapPrm), cap_eff: capPair(s.CapEff), cap_bnd: capPair(s.CapBnd),
    secbits, groups: (s.Groups ?? '').split(/\s+/).filter(Boolean).map(Number), cap_amb: capPair(s.CapAmb),
  };
  if (s.NoNewPrivs && s.NoNewPrivs !== '0') c.no_new_privs = Number(s.NoNewPrivs);
  // a restore raises ambient capabilities after setting securebits (setting them needs CAP_SETPCAP, which the
  // dumped set may lack): this bit would forbid it
  if ((c.cap_amb[0] || c.cap_amb[1]) && secbits & SECBIT_NO_CAP_AMBIENT_RAISE) {
    throw new DumpError(`task ${pid}${tid !== pid ? ` thread ${tid}` : ''}: ambient capabilities with SECBIT_NO_CAP_AMBIENT_RAISE set cannot be restored`);
  }
  return c;
}

function signalQueue(tid: number, shared: boolean): any {
  const sigs = native().peekSiginfo(tid, shared);
  return sigs.length ? { signals: sigs.map((siginfo) => ({ siginfo })) } : {};
}

function threadCore(pid: number, tid: number, tf: ThreadFacts, leader: boolean, seccomp: Seccomp): any {
  const n = native();
  const rl = n.robustList(tid);
  const sch = n.sched(tid);
  const tc: any = { futex_rla: rl.head, futex_rla_len: rl.len, sched_nice: sch.nice, sched_policy: sch.policy };
  // the policy as CRIU keeps it, SCHED_RESET_ON_FORK included; an RT one has a priority
  const policy = sch.policy & ~SCHED_RESET_ON_FORK;
  if (policy === SCHED_DEADLINE) throw new DumpError(`task ${pid} thread ${tid}: scheduling policy SCHED_DEADLINE is not supported (its runtime, deadline and period are not dumped)`);
  if (policy === 1 || policy === 2) tc.sched_prio = sch.prio;
  if (!leader) tc.blk_sigset = n.getSigmask(tid);
  tc.sas = { ss_sp: tf.sas.sp, ss_size: tf.sas.size, ss_flags: tf.sas.flags };
  if (tf.pdeathSig) tc.pdeath_sig = tf.pdeathSig;
  tc.signals_p = signalQueue(tid, false);
  tc.creds = creds(pid, tid, tf.securebits);
  Object.assign(tc, seccomp.threadFields(tid));
  tc.comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').replace(/\n$/, '');
  const rseq = n.rseqConfig(tid);
  if (rseq.size) tc.rseq_entry = { rseq_abi_pointer: rseq.ptr, rseq_abi_size: rseq.size, signature: rseq.sig };
  tc.cg_set = 1;
  return tc;
}

/** A user shadow stack (CET) is neither dumped nor restored yet (the kernel shows it in the status line,
 * not in the xsave area ptrace reads, CET_U being supervisor state): refuse the task rather than lose it. */
function refuseShadowStack(pid: number, tid: number): void {
  const features = (readStatus(pid, tid).x86_Thread_features ?? '').split(/\s+/);
  if (features.includes('shstk')) {
    throw new DumpError(`task ${pid}${tid !== pid ? ` thread ${tid}` : ''} uses a user shadow stack (CET), which ckpt cannot dump yet`);
  }
}

function readNumber(path: string, dflt: number): number {
  try {
    return Number(readFileSync(path, 'latin1').trim());
  } catch {
    return dflt;
  }
}

/** One core entry per thread, leader first. */
export function coreEntries(task: Task, pf: ProcessFacts, tfs: Map<number, ThreadFacts>, seccomp: Seccomp, log: Log): Map<number, any> {
  const n = native();
  const pid = task.pid;
  const out = new Map<number, any>();
  for (const th of task.threads) {
    const leader = th.tid === pid;
    const tf = tfs.get(th.tid)!;
    refuseShadowStack(pid, th.tid);
    const { regs, restartWarning } = readGpRegs(th.tid);
    if (restartWarning) log.warn(`Will restore ${th.tid} with interrupted system call`);
    const core: any = {
      mtype: 'X86_64',
      thread_info: { clear_tid_addr: tf.clearTidAddr, gpregs: regs, fpregs: readFpRegs(th.tid), tls: tlsEntries(th.tid) },
    };
    if (leader) {
      const stat = readStat(pid);
      const rlimits = [];
      for (let r = 0; r < 16; r++) {
        const [cur, max] = n.prlimit(pid, r);
        rlimits.push({ cur, max });
      }
      const tc: any = {
        task_state: task.state, exit_code: 0,
        personality: parseInt(readFileSync(`/proc/${pid}/personality`, 'latin1').trim(), 10) || 0,
        flags: Number(stat[9]), blk_sigset: n.getSigmask(pid), comm: stat[2],
        timers: { real: pf.itimers[0], virt: pf.itimers[1], prof: pf.itimers[2], posix: pf.posixTimers ?? [] },
        rlimits: { rlimits },
        signals_s: signalQueue(pid, true),
        loginuid: readNumber(`/proc/${pid}/loginuid`, 4294967295), // the restored task writes it itself
        oom_score_adj: readNumber(`/proc/${pid}/oom_score_adj`, 0),
        sigactions: pf.sigactions.map((a) => ({ sigaction: a.handler, flags: a.flags, restorer: a.restorer, mask: a.mask, compat_sigaction: false })),
        child_subreaper: pf.childSubreaper,
      };
      if (task.stopSignal) tc.stop_signo = task.stopSignal;
      if (pf.membarrier) tc.membarrier_registration_mask = pf.membarrier;
      core.tc = tc;
    }
    core.thread_core = threadCore(pid, th.tid, tf, leader, seccomp);
    out.set(th.tid, core);
  }
  return out;
}
