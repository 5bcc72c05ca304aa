// The restore plan: what the helper (native/restore/) is given, in plain numbers, strings and
// bytes (encodePlan in plan.ts writes it in the helper's wire form, declared in plan/schema.mjs).
import type { ObjKind } from './plan-wire.js';

export interface Obj {
  kind: ObjKind; // REG PIPE UNIX FIFO INHERITED EVENTFD TIMERFD SIGNALFD EPOLL INOTIFY MEMFD CALLER-TTY PTY-MASTER PTY-SLAVE
  data?: Buffer;
  /** PTY_MASTER: the slave's output queued for the master; the slave's uid and gid (or none) */
  outData?: Buffer; owner?: bigint[];
  /** the kind's numbers, in the order plan/schema.mjs names them (num fields): EVENTFD [counter]; TIMERFD [clockid,
   *  ticks, isec, insec, vsec, vnsec]; SIGNALFD [sigmask]; MEMFD [memfd index]; FANOTIFY [faflags, evflags]; PTY_MASTER [index, termios, winsize,
   *  locked, packet mode, termios set, c_cc...]; PTY_SLAVE, CTTY [master object] */
  nums?: bigint[];
  watches?: { wd: number; mask: number; path: string }[];
  /** FANOTIFY: its marks (type 1 inode, 2 mount) */
  fanMarks?: { type: number; mflags: number; mask: number; ignoredMask: number; path: string }[];
  inheritFd?: number;
  /** EPOLL in flight only (in no task's fds): its targets, registered by the helper under their dumped fd numbers */
  epTargets?: { obj: number; tfd: number; events: number; data: bigint }[];
  fifo?: { size: number; data: Buffer };
  /** F_SETSIG signal, F_SETOWN_EX type and pid */
  fown?: [number, number, number];
  label: string;
  path?: string; flags: number; pos?: bigint;
  pipeNo?: number; end?: number;
  sk?: { type: number; state: number; backlog: number; peer: number; listener: number; sndbuf: number; rcvbuf: number; shutdown: number; passcred: number; passsec?: number; name: Buffer; queue: Buffer[];
    /** files in flight (SCM_RIGHTS): packet pkt of queue carries object obj */
    queueFds?: { pkt: number; obj: number }[];
    /** a listener's pending connections (sockets connected to it, not accepted), in the order they wait */
    icons?: { obj: number }[];
    /** a bound path's socket file: mode (0: as bind made it), owner, group */
    mode?: number; uid?: number; gid?: number;
    /** a relative name: the directory it was bound in */
    nameDir?: string };
  /** INET: socket(family, type, proto); bind to src:srcPort (ifname: the device of a link-local address), listen,
   *  connect to dst:dstPort; opts by step (0 before bind, 1 after connect, 2 once every socket exists); shutdown */
  inet?: { family: number; type: number; proto: number; bind: number; src: Buffer; srcPort: number; ifname?: string;
    listen: number; backlog: number; connect: number; dst: Buffer; dstPort: number;
    opts: { step: number; what: string; level: number; name: number; val: Buffer }[]; shutdown: number };
  /** NETLINK: socket(AF_NETLINK, SOCK_RAW, proto); bound to portid with groups (portid 0: unbound), connected to
   *  dstPortid/dstGroup (connect 1) */
  netlink?: { proto: number; portid: number; groups: number; connect: number; dstPortid: number; dstGroup: number };
  /** PACKET: socket(AF_PACKET, type, proto); bound to ifindex */
  packet?: { type: number; proto: number; ifindex: number };
  /** NETLINK, PACKET: setsockopt calls once bound and connected, in order */
  skOpts?: { what: string; level: number; name: number; val: Buffer }[];
}

export interface PlanTask {
  pid: number; parent: number; pgid: number; sid: number; state: number; exitCode: number;
  /** a stopped task: the signal that stopped it (SIGSTOP, SIGTSTP, ...), sent again once it is restored */
  stopSigno: number;
  /** 1: shares its parent's fd table (CLONE_FILES): the fds are placed by the first task of the table */
  filesShared: number;
  umask: number; cwd: string; root: string; exe: string; pages: string;
  fds: { fd: number; obj: number; cloexec: number }[];
  /** files to map: by path, a memfd, or an object (a ghost file, reopened through /proc/self/fd) */
  files: { path: string; oflags: number; memfd: number; obj?: number }[];
  /** epoll registrations done by this task once its fds are in place: epoll fd, target fd, events, data */
  epoll: [number, number, number, bigint][];
  /** POSIX timers: id, clock, notify, signo, notify tid, sival, isec, insec, vsec, vnsec */
  ptimers: bigint[][];
  /** the object of the terminal this session leader takes as its controlling tty (-1: none), and its foreground group */
  ctty: number; cttyPgrp: number;
  vmas: { start: bigint; end: bigint; pgoff: bigint; prot: number; flags: number; file: number; madv: bigint; addWrite: number }[];
  iovs: { base: bigint; len: bigint; off: bigint }[];
  /** guard pages (madvise MADV_GUARD_INSTALL): start, end */
  guards?: [bigint, bigint][];
  /** the dump's vvar (hint) and vDSO (expect) and their lengths; proxy 1: the dumped vDSO stays, its entry points
   * patched (at: address, code: bytes to write there, rel: offset in code of a u64 the running vDSO's address is
   * added to, -1 none; why: what differs), the running vvar+vDSO go into a hole */
  vdso: { hint: bigint; expect: bigint; vvarLen: bigint; vdsoLen: bigint; proxy: number; why: string; patches: { at: bigint; code: Buffer; rel: number }[] };
  mm: bigint[]; auxv: bigint[]; comm: string;
  sigact: bigint[][]; rlim: bigint[][]; itimer: bigint[][];
  credsSet: number; cred: number[]; secbits: number; groups: number[]; caps: number[][]; noNewPrivs: number;
  dumpable: number; pdeathSig: number; personalitySet: number; personality: bigint;
  /** the audit login uid as dumped (none: the task keeps ckpt's) */
  loginuid?: bigint[];
  /** 1: transparent huge pages disabled for the mm (PR_SET_THP_DISABLE) */
  thpDisabled?: number;
  threads: PlanThread[];
  pagesBytes: number;
  /** AIO rings: address, nr_req for io_setup, length */
  aios: [bigint, bigint, bigint][];
  /** filelocks.img entries of this task: kind (1 POSIX, 2 FLOCK, 4 OFD, 8 LEASE), type, start, len, fd */
  locks: [number, number, bigint, bigint, number][];
  subreaper: number; oomSet: number; oomAdj: number;
  /** membarrier(2) registrations of the mm: MEMBARRIER_CMD_REGISTER_* bits */
  membarrier: number;
  /** pending signals: tid 0 = shared by the process; info = the 128-byte siginfo */
  sigs: { tid: number; info: Buffer }[];
}

export interface PlanThread {
  tid: number; clearTid: bigint; robust: bigint; robustLen: bigint; fsBase: bigint; gsBase: bigint; rseqPtr: bigint; rseqSize: number; rseqSig: number; comm: string; frame: Buffer;
  /** scheduling policy (with SCHED_RESET_ON_FORK), RT priority, nice: each thread's own */
  policy: number; prio: number; nice: number;
  /** 1: seccomp strict mode; else the thread's filter chain, oldest first (the leader's with TSYNC when shared by all) */
  seccompStrict: number; seccomp: { flags: number; insns: Buffer }[];
}

/** A deleted-but-open file: created at `path` before the helper runs (src/ghosts.ts), unlinked by the helper
 * once opened (a directory: once every task has its cwd). type: S_IFMT bits; rdev of a device, target of a symlink */
export interface Ghost {
  path: string; type: number; mode: number; uid: number; gid: number; size: bigint; rdev?: number; target?: string;
  atime?: [bigint, bigint]; mtime?: [bigint, bigint];
  chunks: { off: bigint; data: Buffer }[];
}

/** a memfd or shared anonymous memory (anon: mmap'ed MAP_SHARED|MAP_ANONYMOUS, so it stays "/dev/zero") */
export interface Memfd {
  label: string; name: string; anon: boolean; size: bigint; seals: number; mode: number; uid: number; gid: number;
  pages: string; runs: { off: bigint; len: bigint; fileOff: bigint }[];
  /** on hugetlbfs: memfd_create's MFD_HUGETLB and page size bits (0: shmem) */
  hugetlb?: number;
}

export interface Plan {
  detached: boolean; shellJob: boolean; leaveStopped?: boolean; sibling?: boolean;
  /** a shell job's terminal: the helper needs our stdin (the caller's terminal) */
  callerTty: boolean;
  memfds: Memfd[];
  ghosts: Ghost[];
  /** caller fds handed over (--inherit-fd): the helper gets them at the same numbers */
  inheritFds: number[];
  pipes: { size: number; data: Buffer }[];
  objs: Obj[];
  tasks: PlanTask[];
  /** PIDs of processes dead when dumped whose /proc/PID the tree holds (kinds/procfs.ts) */
  procPids?: number[];
}

export interface InheritFd { fd: number; key: string }
export interface PlanOptions { dir: string; detached: boolean; shellJob: boolean; leaveStopped?: boolean; sibling?: boolean; extUnixSk: boolean; inheritFds?: InheritFd[]; fileLocks?: boolean;
  /** --tcp-close: TCP connections of the images come back closed; --tcp-established: they would come back connected */
  tcpClose?: boolean; tcpEstablished?: boolean }
