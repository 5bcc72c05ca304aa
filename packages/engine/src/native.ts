// Typed access to the native core (build/Release/ckpt_native.node in this package, built from its binding.gyp).
// Syscalls and plain facts only; every ptrace call must come from this (main) thread.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export interface WaitResult { pid: number; status: number }
export interface Siginfo { signo: number; code: number; errno: number }
/** CPUID leaf 0xD and XCR0 (native/cpu.cc); without osxsave only `osxsave`, `xcr0` (0) and no components */
export interface CpuXsave {
  osxsave: boolean; xcr0: bigint; supported?: bigint; size?: number; maxSize?: number;
  sub1Eax?: number; xsavesSize?: number; xssSupported?: bigint;
  components: { bit: number; size: number; offset: number; supervisor: boolean; align64: boolean }[];
}
/** lengths and sequence numbers as libsoccr gives them (a half-closed socket's FIN is not data) */
export interface TcpRepairState {
  state: number; inqLen: number; inqSeq: number; outqLen: number; outqSeq: number; unsqLen: number;
  mssClamp: number; optMask: number; sndWscale: number; rcvWscale: number; timestamp?: number;
  window?: { sndWl1: number; sndWnd: number; maxWindow: number; rcvWnd: number; rcvWup: number };
  inq: Buffer; outq: Buffer;
}
export interface RseqConfig { ptr: bigint; size: number; sig: number; flags: number }

export interface Native {
  seize(pid: number, options?: number): number;
  interrupt(pid: number): number;
  cont(pid: number, sig?: number): number;
  detach(pid: number, sig?: number): number;
  setOptions(pid: number, options: number): number;
  kill(pid: number, sig: number): number;
  wait(pid: number, timeoutMs?: number, flags?: number): WaitResult;
  getSiginfo(pid: number): Siginfo | null;
  getRegs(pid: number): Buffer;
  getXstate(pid: number): Buffer;
  getFpregs(pid: number): Buffer;
  getSigmask(pid: number): bigint;
  rseqConfig(pid: number): RseqConfig;
  peekSiginfo(pid: number, shared: boolean): Buffer[];
  peekWord(pid: number, addr: bigint): bigint;
  injectSyscall(pid: number, addr: bigint, nr: number, args: (number | bigint)[]): bigint;

  zeroPfn(): bigint;
  scanPages(pid: number, start: bigint, end: bigint, opts: { all?: boolean; skipFile?: boolean; zeroPfn?: bigint; guards?: boolean }): BigUint64Array;
  /** progress(done, total) in bytes: every 64 MiB read and at the end (not called for less) */
  copyPages(pid: number, outFd: number, runs: BigUint64Array, progress?: (done: number, total: number) => void): number;
  readMem(pid: number, addr: bigint, len: number): Buffer;
  /** process_mrelease of a task that was sent SIGKILL: 0 or -errno */
  mrelease(pid: number): number;

  kcmp(pid1: number, pid2: number, type: number, idx1: number, idx2: number): number;
  kcmpEpollTfd(pid1: number, fd: number, pid2: number, efd: number, tfd: number, toff: number): number;
  getFd(pid: number, fd: number): number;
  close(fd: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  pipePeek(fd: number): Buffer;
  getsockoptInt(fd: number, level: number, name: number): number;
  getsockoptBuf(fd: number, level: number, name: number, size: number): Buffer | null;
  sockName(fd: number, peer?: boolean): Buffer | null;
  /** queued packets, unconsumed; fds: files in flight (SCM_RIGHTS), opened in this process, the caller's to close */
  peekQueue(fd: number): { data: Buffer; fds: number[] }[];
  unixSockFile(fd: number): { path: string; mode: number; uid: number; gid: number } | null;
  /** the events poll(2) reports at once for fd, or -errno */
  pollEvents(fd: number, events: number): number;
  /** inode of the network namespace of a socket (SIOCGSKNS), or -errno */
  sockNetNs(fd: number): number;
  /** the classic BPF filter of a socket (8 bytes an instruction), empty when none */
  sockFilter(fd: number): Buffer;
  prlimit(pid: number, resource: number): [bigint, bigint];
  sched(tid: number): { policy: number; prio: number; nice: number };
  robustList(tid: number): { head: bigint; len: number };
  clock(id: number): [number, number];
  lseek(fd: number, offset: number | bigint, whence: number): bigint | number;
  fown(fd: number): { pid: number; pidType: number; uid: number; euid: number; signum: number };
  /** st_dev of the kernel's internal shmem mount (shared anonymous memory, memfds), or -errno */
  shmemDev(): number;
  handlePath(mountDir: string, type: number, handle: Buffer): string | null;
  /** 0 or -errno */
  mknod(path: string, mode: number, rdev: number): number;
  /** linkat(from, to, AT_SYMLINK_FOLLOW): 0 or -errno */
  linkFollow(from: string, to: string): number;
  /** readlinkat(open(procFd, O_PATH), ""): a symlink's target, or null */
  symlinkTarget(procFd: string): string | null;
  /** fd of a detached mount (fsmount) of a cgroup hierarchy: fstype cgroup or cgroup2, options "name=X" or controllers; or -errno */
  mountCgroup(fstype: string, options: string): number;
  /** /proc/PID/task/TID/cgroup read from inside the thread's own cgroup namespace, or -errno */
  cgroupView(pid: number, tid: number): string | number;
  threadArea(tid: number, entry: number): Buffer | null;
  seccompFilters(tid: number): { filters?: Buffer[]; flags?: number[]; error?: number };

  probePtrace(): Record<string, number>;
  probeClone3SetTid(pid: number): number;
  probeSimple(): Record<string, number>;
  probeFeatures(): Record<string, number>;
  cpuXsave(): CpuXsave;
  cpuid(leaf: number, subleaf: number): [number, number, number, number];
  /** clone3(CLONE_PARENT|CLONE_PIDFD) + execve with stdin/out/err the given fds and keep at their numbers: the pidfd, or -errno */
  /** [read end, write end], close-on-exec, or -errno */
  pipe(): [number, number] | number;
  spawnSibling(path: string, argv: string[], env: string[], stdin: number, stdout: number, stderr: number, keep: number[]): number;
  /** 1 once the pidfd's process ended, 0 after timeoutMs, -errno */
  pollExit(pidfd: number, timeoutMs: number): number;
  unixDiag(): unknown[];

  /** signals.cc: these signals only noted from now on (0 or -errno); untrap: old actions back, the signal noted (0: none) */
  trapSignals(signos: number[]): number;
  untrapSignals(): number;
  /** the first trapped signal that came since trapSignals (0: none) */
  pendingSignal(): number;

  /** TCP_REPAIR on (1) or off (0; -1: off without the window probe): 0 or -errno */
  tcpRepair(fd: number, mode: number): number;
  /** out of repair mode, then SO_REUSEADDR = reuseaddr: 0 or -errno */
  tcpResume(fd: number, reuseaddr: number): number;
  /** a socket in repair mode: what tcp-stream-INO.img holds (native/tcp-repair.cc); throws naming the step */
  tcpStreamState(fd: number): TcpRepairState;
  /** inet sockets of a family and protocol in the given TCP states (bit mask), or -errno (-ENOENT: no diag for them) */
  inetDiag(family: number, protocol: number, states: number): unknown[] | number;
  /** every netlink socket of our network namespace (sockdiag.cc), or -ENOENT without NETLINK_DIAG */
  netlinkDiag(): unknown[] | number;
  /** every packet socket of our network namespace (sockdiag.cc), or -ENOENT without PACKET_DIAG */
  packetDiag(): unknown[] | number;
  /** rtnl.cc: the calling thread enters the network namespace at path; an fd on the one it left, or -errno */
  netnsEnter(path: string): number;
  /** back to the namespace of netnsEnter's fd (closed); aborts if it cannot */
  netnsReturn(fd: number): void;
  /** an fd holding a new network namespace (the thread stays where it is), or -errno */
  netnsCreate(): number;
  /** the links of the thread's network namespace (RTM_GETLINK), or -errno */
  rtnlLinks(): RtnlLink[] | number;
  /** RTM_SETLINK of link index in the thread's network namespace: flags and mtu; 0 or -errno */
  rtnlSetLink(index: number, flags: number, mtu: number): number;
  /** the conntrack table of the thread's network namespace: the NETLINK_NETFILTER dump's messages, or -errno */
  nfctDump(): Buffer | number;
  /** each message of nfctDump's form sent back with NLM_F_CREATE (TCP entries made liberal); 0 or -errno */
  nfctRestore(msgs: Buffer): number;
}

export interface RtnlLink {
  index: number; type: number; flags: number; mtu: number; name: string; kind: string;
  link: number; linkNetnsid: number; master: number; address?: Buffer;
}

let cached: Native | undefined;

/** Loads the addon once; throws a clear error when it was not built. */
export function native(): Native {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const here = dirname(fileURLToPath(import.meta.url));
  const path = resolve(here, '../build/Release/ckpt_native.node');
  try {
    cached = require(path) as Native;
  } catch (e) {
    throw new Error(`native core not available at ${path} (built by npm run build in a checkout, at install with node-gyp: g++, make, python3): ${(e as Error).message.split('\n')[0]}`);
  }
  return cached;
}
