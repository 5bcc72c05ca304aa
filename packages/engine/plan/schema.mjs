// The restore plan, declared once: what `ckpt restore` (TypeScript, src/restore/plan.ts) hands the restore
// helper (C, native/restore-helper.c). generate.mjs turns this into the TypeScript encoder and types
// (src/restore/plan-wire.ts) and the C structs and reader (build/restore/plan-wire.{h,c}).
//
// Wire form: every number a u64 little-endian; str and bytes a u64 length, the data, zero padding to 8;
// an array a u64 count and its elements; fixed arrays their elements only; records their fields in the
// order declared here. The plan starts with PLAN_MAGIC and the version.
//
// A field is a type, or a type with: at (where the TypeScript Plan keeps it, a dotted path; default: its
// name), c (its C member; default: its name in snake_case), optional (absent in TypeScript: 0, '', empty,
// or -1 for an index). Adding a field is one line here (and the code that sets and uses it); a change of
// the wire form bumps `version`.
import { array, bool, bytes, fixed, i64, index, kind, num, str, u64, union } from './types.mjs';

export const version = 3;
export const magic = 0x31545352544b5043n; // "CPKTRST1"

export const enums = {
  /** what an object (one open file description of the images) is */
  ObjKind: {
    c: 'obj_kind', prefix: 'OBJ_', values: {
      REG: 1, PIPE: 2, UNIX: 3, FIFO: 4, INHERIT: 5, EVENTFD: 6, TIMERFD: 7, SIGNALFD: 8, EPOLL: 9, INOTIFY: 10,
      MEMFD: 11, CALLER_TTY: 12, PTY_MASTER: 13, PTY_SLAVE: 14, CTTY: 15, PIDFD: 16, INET: 17, FANOTIFY: 18, NETLINK: 19, PACKET: 20,
    },
  },
};

export const flags = {
  /** bits of an object's flags above the open(2) flags */
  ObjFlag: { prefix: 'OBJ_', values: { GHOST: 1n << 31n /* REG: a ghost file, unlinked once every object is open */, EXTERNAL: 1n << 30n /* a peer outside the tree (--ext-unix-sk): never created */,
    HANGUP: 1n << 29n /* PTY_MASTER: there only for hung-up slaves, closed once every object is open */,
    PEER_GONE: 1n << 28n /* UNIX: connected to a peer since closed: made with a throwaway peer that sends its queue, then closes */,
    PROC_TASK: 1n << 27n /* REG: a file under /proc/PID of a task of the tree: opened by the task holding it once PID exists */,
    SK_DELETED: 1n << 26n /* UNIX: its socket file was unlinked: bound, kept open O_PATH (peers connect through it), unlinked */,
    LINK_REMAP: 1n << 25n /* REG: opened by its link remap's name (--link-remap), which goes once the restore succeeded */ } },
  /** the plan's flags */
  PlanFlag: { prefix: 'FLAG_', values: { DETACHED: 1n, SHELL_JOB: 2n, LEAVE_STOPPED: 4n /* -s: every task stops before it runs */, SIBLING: 8n /* -S: the root is the child of ckpt's parent */ } },
};

/** records by their C struct name; `plan` is the root, its members are the C globals */
export const records = {
  plan: {
    root: true,
    fields: {
      flags: { ...u64, c: 'plan_flags' }, // PlanFlag
      pipes: array('pipe_'),
      memfds: array('memfd_'),
      objs: array('obj'),
      tasks: array('task', { min: 1 }),
      // PIDs of processes dead when dumped whose /proc/PID the tree holds (CRIU's PROCFS remaps): a temporary
      // process has each while the objects are created and the tasks prepared
      procPids: { ...array(u64), optional: true },
      inheritFds: { ...array(u64), optional: true }, // the caller's fds (--inherit-fd), at the same numbers: closed once every object exists
    },
  },
  pipe_: {
    fields: { size: u64, data: bytes() },
    cOnly: { fds: 'int fds[2]' },
  },
  /** a memfd or shared anonymous memory (anon: mmap'ed MAP_SHARED|MAP_ANONYMOUS, so it stays "/dev/zero") */
  memfd_: {
    fields: {
      label: str, name: str, anon: bool, size: u64, seals: u64, mode: u64, uid: u64, gid: u64, pages: str,
      runs: array('run', { layout: 'flat' }), // offset in the file, length, offset in the pages image
      hugetlb: { ...u64, optional: true }, // on hugetlbfs: MFD_HUGETLB and the page size bits (as memfd_create takes them)
    },
    cOnly: { fd: 'int fd = -1', rw_given: 'int rw_given' },
  },
  run: { fields: { off: u64, len: u64, fileOff: u64 } },
  obj: {
    fields: {
      kind: kind('ObjKind'),
      label: str, // for errors: "file /x", "pipe:[123]"
      payload: union('kind', {
        REG: { path: str, flags: u64, pos: { ...u64, optional: true } },
        FIFO: { path: str, flags: u64, fifoSize: { ...u64, at: 'fifo.size', optional: true }, fifoData: { ...bytes(), at: 'fifo.data', optional: true } },
        PIPE: { pipeNo: index('pipes'), end: u64, flags: u64 },
        UNIX: {
          skType: { ...u64, at: 'sk.type' }, skState: { ...u64, at: 'sk.state' }, skBacklog: { ...u64, at: 'sk.backlog' },
          skPeer: { ...index('objs', { none: true }), at: 'sk.peer', c: 'sk_peer_obj' },
          skListener: { ...index('objs', { none: true }), at: 'sk.listener' },
          skSndbuf: { ...u64, at: 'sk.sndbuf' }, skRcvbuf: { ...u64, at: 'sk.rcvbuf' }, skShutdown: { ...u64, at: 'sk.shutdown' },
          skPasscred: { ...u64, at: 'sk.passcred' }, flags: u64, skName: { ...bytes(), at: 'sk.name' },
          queue: { ...array(bytes()), at: 'sk.queue' }, // packets to deliver to this socket (sent from its peer)
          queueFds: { ...array('skfd'), at: 'sk.queueFds', optional: true }, // files in flight with them (SCM_RIGHTS)
          skIcons: { ...array('icon'), at: 'sk.icons', optional: true }, // LISTEN: pending connections, in the order they wait
          // a bound path's socket file: its mode (0: leave as bind made it), owner and group
          skNameDir: { ...str, at: 'sk.nameDir', optional: true }, // a relative name: the directory it was bound in
          skMode: { ...u64, at: 'sk.mode', optional: true }, skUid: { ...u64, at: 'sk.uid', optional: true }, skGid: { ...u64, at: 'sk.gid', optional: true },
          skPasssec: { ...u64, at: 'sk.passsec', optional: true }, // SO_PASSSEC set
        },
        INHERIT: { inheritFd: u64 }, // the caller's fd (--inherit-fd)
        EVENTFD: { flags: u64, counter: num(u64) },
        TIMERFD: { flags: u64, clockid: num(u64), ticks: num(u64), isec: num(u64), insec: num(u64), vsec: num(u64), vnsec: num(u64), settimeFlags: num(u64) },
        SIGNALFD: { flags: u64, sigmask: num(u64) },
        EPOLL: { flags: u64, epTargets: { ...array('eptarget'), optional: true } }, // in flight only: its targets, registered by the helper
        INOTIFY: { flags: u64, watches: { ...array('watch'), optional: true } },
        MEMFD: { flags: u64, pos: { ...u64, optional: true }, memfd: num(index('memfds')) },
        CALLER_TTY: { flags: u64 },
        PTY_MASTER: {
          flags: u64, index: num(u64), iflag: num(u64), oflag: num(u64), cflag: num(u64), lflag: num(u64), line: num(u64),
          wsRow: num(u64), wsCol: num(u64), wsXpixel: num(u64), wsYpixel: num(u64), locked: num(u64), packetMode: num(u64),
          termiosSet: num(u64), cc: num(array(u64, { max: 19 })), // c_cc bytes, as many as the image has
          data: { ...bytes(), optional: true }, // input queued for the slave
          outData: { ...bytes(), optional: true }, // output of the slave queued for the master
          owner: { ...array(u64, { max: 2 }), optional: true }, // the slave's uid and gid (none: as devpts makes it)
        },
        PTY_SLAVE: { flags: u64, master: num(index('objs', { before: true, kind: 'PTY_MASTER' })) },
        CTTY: { flags: u64, master: num(index('objs', { before: true, kind: 'PTY_MASTER' })) }, // /dev/tty, as the pty of this master
        // pid 0: of a process dead when dumped (ino: which one); else opened by the task that holds it, once pid exists
        PIDFD: { flags: u64, pid: num(u64), ino: num(u64) },
        // an inet socket: socket(family, type, proto), its options of step 0, bind to src (bind 1), listen
        // (backlog), connect to dst (connect 1), the options of step 1, shutdown (1 RD, 2 WR, 3 both; ENOTCONN is
        // no error); those of step 2 once every socket exists (SO_REUSEADDR/REUSEPORT back to what was dumped)
        INET: {
          flags: u64, inFamily: { ...u64, at: 'inet.family' }, inType: { ...u64, at: 'inet.type' }, inProto: { ...u64, at: 'inet.proto' },
          inBind: { ...u64, at: 'inet.bind' }, inSrc: { ...bytes({ max: 16 }), at: 'inet.src' }, inSrcPort: { ...u64, at: 'inet.srcPort' },
          inIfname: { ...str, at: 'inet.ifname', optional: true }, // an IPv6 link-local source: the device its scope id names
          inListen: { ...u64, at: 'inet.listen' }, inBacklog: { ...u64, at: 'inet.backlog' },
          inConnect: { ...u64, at: 'inet.connect' }, inDst: { ...bytes({ max: 16 }), at: 'inet.dst' }, inDstPort: { ...u64, at: 'inet.dstPort' },
          inOpts: { ...array('sockopt'), at: 'inet.opts' }, inShutdown: { ...u64, at: 'inet.shutdown' },
          // a TCP connection rebuilt in repair mode (tcp_stream_restore) instead of bind/listen/connect: struct
          // tcp_stream's numbers (tcp-stream.ts restoreFields: state .. rcv_wup; none: not one), its dumped
          // SO_REUSEADDR (set as it leaves repair mode) and its queues' bytes
          inTcp: { ...array(u64, { max: 17 }), at: 'inet.tcp', optional: true }, inTcpReuseaddr: { ...u64, at: 'inet.tcpReuseaddr', optional: true },
          inInq: { ...bytes(), at: 'inet.inq', optional: true }, inOutq: { ...bytes(), at: 'inet.outq', optional: true },
        },
        // fanotify_init's flags and event flags as dumped, then its marks
        FANOTIFY: { flags: u64, faflags: num(u64), evflags: num(u64), fanMarks: { ...array('fanmark'), optional: true } },
        // a netlink socket: socket(AF_NETLINK, SOCK_RAW, proto), bound to portid with groups (portid 0: not bound;
        // taken: any port), connected to dstPortid and dstGroup (connect 1), then its options (skOpts)
        NETLINK: {
          flags: u64, nlProto: { ...u64, at: 'netlink.proto' }, nlPortid: { ...u64, at: 'netlink.portid' }, nlGroups: { ...u64, at: 'netlink.groups' },
          nlConnect: { ...u64, at: 'netlink.connect' }, nlDstPortid: { ...u64, at: 'netlink.dstPortid' }, nlDstGroup: { ...u64, at: 'netlink.dstGroup' },
        },
        // a packet socket: socket(AF_PACKET, type, proto), bound to ifindex (SOCK_PACKET: by the device's name, only
        // when ifindex is not 0), then its options (skOpts: version, rings, memberships, fanout, SOL_SOCKET ones)
        PACKET: {
          flags: u64, pkType: { ...u64, at: 'packet.type' }, pkProto: { ...u64, at: 'packet.proto' }, pkIfindex: { ...u64, at: 'packet.ifindex' },
        },
      }),
      // F_SETSIG / F_SETOWN_EX, set by the task that has it
      fownSig: { ...u64, at: 'fown.0', optional: true }, fownType: { ...u64, at: 'fown.1', optional: true }, fownPid: { ...u64, at: 'fown.2', optional: true },
      // NETLINK, PACKET: the options set once the socket is bound and connected, in order
      skOpts: { ...array('skopt'), optional: true },
    },
    cOnly: { pty_index: 'int pty_index', sk_nonblock: 'uint64_t sk_nonblock', fd: 'int fd = -1', sk_gone: 'int sk_gone = -1' /* PEER_GONE: the throwaway peer */,
      sk_ghost: 'int sk_ghost = -1' /* SK_DELETED: its unlinked socket file, O_PATH, until every socket is connected */ },
  },
  watch: { fields: { wd: u64, mask: u64, path: str } },
  /** a fanotify mark: on an inode or a mount (MARK_TYPE), by path; mflags as fdinfo shows them (FAN_MARK_*) */
  fanmark: { fields: { type: u64, mflags: u64, mask: u64, ignoredMask: u64, path: str } },
  /** a file in flight: packet pkt of a socket's queue carries object obj (in the order of its SCM_RIGHTS) */
  skfd: { fields: { pkt: u64, obj: index('objs') } },
  /** a target of an epoll in flight (in no task's fds): object obj, registered under fd number tfd as dumped */
  eptarget: { fields: { obj: index('objs'), tfd: u64, events: u64, data: u64 } },
  /** a socket option to set at step (INET's), level, name, the value's bytes (SO_ATTACH_FILTER: the instructions); what: its name, for errors */
  sockopt: { fields: { step: u64, what: str, level: u64, name: u64, val: bytes({ max: 4096 * 8 }) } },
  /** an option of a netlink or packet socket (obj's skOpts): level, name, the value's bytes (SO_ATTACH_FILTER: the
   * instructions); what: its name, for errors */
  skopt: { fields: { what: str, level: u64, name: u64, val: bytes({ max: 4096 * 8 }) } },
  /** a pending connection of a listener: the connecting socket's object */
  icon: { fields: { obj: index('objs') } },
  task: {
    fields: {
      pid: u64, parent: index('tasks', { none: true, before: true }), pgid: u64, sid: u64, state: u64, exitCode: u64,
      stopSigno: u64, // a stopped task (state 3): the signal that stopped it
      filesShared: u64, // 1: cloned with CLONE_FILES, its parent's fd table is its own (fds placed by the parent)
      umask: u64, cwd: str, root: str, exe: str, pages: str,
      fds: array('fdent'),
      files: array('mfile'), // files to map: by path, a memfd, or an object (a ghost file, reopened through /proc/self/fd)
      vmas: array('vma'),
      iovs: array('iov', { layout: 'flat', c: 'iov', count: 'nr_iovs' }), // base, len, off triples
      guards: { ...array(fixed(u64, 2)), optional: true }, // start, end of guard pages (MADV_GUARD_INSTALL), once the VMAs are there
      vdsoHint: { ...u64, at: 'vdso.hint' }, vdsoExpect: { ...u64, at: 'vdso.expect' }, vvarLen: { ...u64, at: 'vdso.vvarLen' }, vdsoLen: { ...u64, at: 'vdso.vdsoLen' },
      // the vDSO proxy (restore/vdso-proxy.ts): the dumped vDSO's entry points patched into jumps to the running one
      vdsoProxy: { ...u64, at: 'vdso.proxy' }, vdsoWhy: { ...str, at: 'vdso.why' }, vdsoPatches: { ...array('vdso_patch', { max: 256 }), at: 'vdso.patches' },
      mm: fixed(u64, 11),
      auxv: array(u64, { max: 62, cap: 64 }),
      comm: str,
      sigact: fixed(fixed(u64, 4), 64), rlim: fixed(fixed(u64, 2), 16), itimer: fixed(fixed(u64, 4), 3),
      credsSet: u64, cred: fixed(u64, 8), secbits: u64, groups: array(u64, { max: 64, cap: 64 }), caps: fixed(fixed(u64, 2), 5), noNewPrivs: u64, // caps: inheritable, permitted, effective, bounding, ambient
      dumpable: u64, pdeathSig: u64, personalitySet: u64, personality: u64,
      loginuid: { ...array(u64, { max: 1 }), optional: true }, // the audit login uid, written by the task itself (none: ckpt's, inherited)
      thpDisabled: { ...u64, optional: true }, // mm.thp_disabled: PR_SET_THP_DISABLE once the VMAs are mapped
      threads: array('thr', { min: 1, c: 'thr', count: 'nr_threads' }),
      aios: array(fixed(u64, 3), { max: 64 }), // AIO rings: address, nr_req for io_setup, length (src/restore/aio.ts)
      locks: array(fixed(u64, 5)), // kind (1 POSIX, 2 FLOCK, 4 OFD, 8 LEASE), type, start, len, fd
      subreaper: u64, oomSet: u64, oomAdj: i64,
      membarrier: u64, // membarrier(2) registrations (MEMBARRIER_CMD_REGISTER_* bits), made again
      sigs: array('sig', { layout: 'soa', prefix: 'sig_' }), // pending signals (tid 0: shared)
      epoll: array(fixed(u64, 4)), // epoll fd, target fd, events, data
      ptimers: array(fixed(u64, 10)), // id, clock, notify, signo, notify tid, sival, isec, insec, vsec, vnsec
      ctty: index('objs', { none: true }), cttyPgrp: u64, // the terminal this session leader takes as its controlling tty
      cgroup: { ...str, optional: true }, // cgroup.procs files (newline-separated) the task writes itself into before forking; '': its parent's cgroups
      cgns: { ...str, optional: true }, // cgroup.procs files of its cgroup namespace's root: joined, then unshare(CLONE_NEWCGROUP), before `cgroup`; '': none
      netns: { ...str, optional: true }, // root task only: the tree's network namespace (a file the helper setns(CLONE_NEWNET)s to before it creates the objects and clones the root); '': ckpt's
    },
    cOnly: { region_need: 'uint64_t region_need' },
  },
  fdent: { fields: { fd: u64, obj: index('objs'), cloexec: u64 } },
  mfile: {
    fields: { path: str, oflags: u64, memfd: index('memfds', { none: true }), obj: { ...index('objs', { none: true }), optional: true } },
    cOnly: { fd: 'int fd = -1' },
  },
  vma: {
    fields: { start: u64, end: u64, pgoff: u64, prot: u64, flags: u64, file: index('files', { none: true }), madv: u64, addWrite: u64 },
    // premap.c: where the helper mapped and filled it before forking the children that share it (0: the blob maps it)
    cOnly: { premap: 'uint64_t premap', inherited: 'int inherited' },
  },
  iov: { fields: { base: u64, len: u64, off: u64 } },
  thr: {
    fields: {
      tid: u64, clearTid: u64, robust: u64, robustLen: u64, fsBase: u64, gsBase: u64, rseqPtr: u64, rseqSize: u64, rseqSig: u64,
      comm: str, frame: bytes({ max: 0x2000 }), // the rt_sigframe, at most FRAME_AREA
      policy: u64, prio: u64, nice: i64, // scheduling (policy with SCHED_RESET_ON_FORK), set by the thread itself
      // seccomp, entered by the thread itself last: strict mode, or its filter chain (oldest first; the leader's
      // with TSYNC when every thread shares it)
      seccompStrict: u64, seccomp: array('filter', { layout: 'soa', prefix: 'sc_' }),
    },
  },
  // at: address; code: the bytes written there (at most rst_vdso_patch.code); rel: offset in code of a u64 the
  // running vDSO's address is added to, -1 none
  vdso_patch: { fields: { at: u64, rel: i64, code: bytes({ max: 16 }) } },
  sig: { fields: { tid: u64, info: bytes({ len: 128 }) } },
  filter: { fields: { flags: u64, insns: bytes({ multipleOf: 8, max: 4096 * 8 }) } },
};
