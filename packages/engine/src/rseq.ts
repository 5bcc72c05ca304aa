// rseq (CRIU's fixup_thread_rseq): a thread stopped inside a restartable sequence's critical section must come
// back at the sequence's abort handler, where the kernel would send it on its next preemption or signal. Resumed
// at its old IP it would run on in the section while the restored kernel sees no section (it clears rseq_cs
// lazily, and the parasite's run may already have done so): a section completed non-atomically.
import { DumpError } from './log.js';
import { native } from './native.js';

/** The thread's current critical-section descriptor, read before the parasite runs (that may clear it). */
export interface RseqCs { flags: number; startIp: bigint; postCommitOffset: bigint; abortIp: bigint; rseqFlags: number }

const NO_RESTART_MASK = 0x7; // RSEQ_CS_FLAG_NO_RESTART_ON_{PREEMPT,SIGNAL,MIGRATE}

export function readRseqCs(pid: number, tid: number): RseqCs | undefined {
  const n = native();
  const conf = n.rseqConfig(tid);
  if (!conf.size) return undefined;
  const abi = n.readMem(pid, conf.ptr, 32); // cpu_id_start, cpu_id, rseq_cs, flags
  const csPtr = abi.readBigUInt64LE(8);
  if (!csPtr) return undefined;
  const cs = n.readMem(pid, csPtr, 32); // version, flags, start_ip, post_commit_offset, abort_ip
  if (cs.readUInt32LE(0) !== 0) throw new DumpError(`task ${pid} thread ${tid}: rseq critical section of unknown version ${cs.readUInt32LE(0)}`);
  return { flags: cs.readUInt32LE(4), startIp: cs.readBigUInt64LE(8), postCommitOffset: cs.readBigUInt64LE(16), abortIp: cs.readBigUInt64LE(24), rseqFlags: abi.readUInt32LE(16) };
}

/** Moves a thread stopped inside its critical section to the abort handler (gpregs as dumped). */
export function abortRseqSection(pid: number, tid: number, regs: { ip: bigint }, cs: RseqCs | undefined): void {
  if (!cs || BigInt.asUintN(64, regs.ip - cs.startIp) >= cs.postCommitOffset) return;
  if ((cs.flags | cs.rseqFlags) & NO_RESTART_MASK) {
    throw new DumpError(`task ${pid} thread ${tid}: stopped inside an rseq critical section flagged not to restart, which ckpt cannot restore`);
  }
  regs.ip = cs.abortIp;
}
