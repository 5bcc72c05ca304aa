// criu 4.2's options (criu/config.c, criu(8)) with what each means for ckpt: acted on, accepted
// though it changes nothing for ckpt (`noop`, said in --help), or refused by name (`refuse`).
// Values are checked as criu checks them, but strictly: `-t abc` is a usage error, not task 0.
import { existsSync } from 'node:fs';
import { getopt, UsageError, type GetoptSpec } from './getopt.js';

export const COMMANDS = ['check', 'dump', 'restore', 'cpuinfo'] as const;
export type Command = (typeof COMMANDS)[number];
/** criu commands ckpt does not implement */
const OTHER_CRIU_COMMANDS = ['pre-dump', 'page-server', 'service', 'dedup', 'lazy-pages', 'swrk', 'exec', 'show'];

export type FinalState = 'dead' | 'running' | 'stopped';

export interface CliOptions {
  command: Command;
  /** cpuinfo's dump|check */
  sub?: 'dump' | 'check';
  imagesDir: string;
  workDir?: string;
  logFile?: string;
  logPid: boolean;
  verbosity: number;
  tree?: number;
  pidfile?: string;
  detached: boolean;
  sibling: boolean;
  /** what becomes of the tree after dump (criu: dead unless -R or -s) or restore (running unless -s) */
  finalState?: FinalState;
  shellJob: boolean;
  fileLocks: boolean;
  /** --tcp-close, --tcp-established, --skip-in-flight (criu's TCP options) */
  tcpClose: boolean; tcpEstablished: boolean; skipInFlight: boolean;
  extUnixSk: boolean;
  /** -x INO,... and --external unix[INO]: sockets allowed to have a peer outside the tree */
  extUnixSkInodes: number[];
  inheritFds: string[];
  /** --external file[MNT_ID:INO] (hex, normalized): files dumped as external */
  externalFiles: string[];
  timeout: number;
  preDumpMode: 'splice' | 'read';
  statusFd?: number;
  actionScripts: string[];
  displayStats: boolean;
  ghostLimit: number;
  linkRemap: boolean;
  manageCgroups?: 'none' | 'props' | 'soft' | 'full' | 'strict' | 'ignore';
  /** --network-lock (dump; criu's default iptables; restore takes the dump's and warns when given) */
  networkLock?: 'iptables' | 'nftables' | 'skip';
  /** --join-ns net:PID|FILE: the restored root task joins that network namespace */
  joinNet?: string;
  /** --weak-sysctls: a network namespace's sysctl that cannot be written is skipped */
  weakSysctls?: boolean;
  /** --cgroup-root [controller:]/path, in the order given */
  cgroupRoots: { ctl?: string; root: string }[];
  features: string[];
  all: boolean;
  extra: boolean;
  experimental: boolean;
  help: boolean;
  version: boolean;
  /** options given that act on other commands only (criu ignores them too): said in the log */
  notes: string[];
  /** options given that ckpt cannot honour: each a line, logged as an error before anything is done */
  refused: string[];
}

/** An option ckpt cannot honour: not a usage error (the command line is right), refused once the log is open. */
export class Refusal extends Error {}

export interface OptDef extends GetoptSpec {
  /** criu's BOOL_OPT: --no-NAME resets it */
  bool?: true;
  meta?: string;
  help: string;
  /** the commands it acts on (else: all); given to another command it is accepted and noted in the log */
  cmds?: readonly Command[];
  set?: (o: CliOptions, v: string | undefined, spelled: string, negated: boolean) => void;
  /** accepted, changes nothing for ckpt: why */
  noop?: string;
  /** ckpt cannot honour it yet: refused by name, with why */
  refuse?: string;
  group: 'common' | 'dump' | 'restore' | 'check' | 'noop' | 'refused';
}

const DEFAULT_GHOST_LIMIT = 1 << 20;

export function defaults(): Omit<CliOptions, 'command'> {
  return {
    imagesDir: '.', logPid: false, verbosity: 2, detached: false, sibling: false, shellJob: false, fileLocks: false, tcpClose: false, tcpEstablished: false, skipInFlight: false,
    extUnixSk: false, extUnixSkInodes: [], inheritFds: [], externalFiles: [], timeout: 10, preDumpMode: 'splice', actionScripts: [],
    displayStats: false, ghostLimit: DEFAULT_GHOST_LIMIT, linkRemap: false, cgroupRoots: [], features: [], all: false, extra: false, experimental: false,
    help: false, version: false, notes: [], refused: [],
  };
}

/** criu's parse_join_ns and check_ns_file, for the types ckpt joins (net); the others refused by name */
function parseJoinNs(v: string, spelled: string): string {
  const colon = v.indexOf(':');
  if (colon < 0) throw bad(spelled, v);
  const type = v.slice(0, colon), file = v.slice(colon + 1).split(',')[0];
  if (!['net', 'uts', 'time', 'ipc', 'user', 'mnt', 'pid'].includes(type)) throw new UsageError(`invalid namespace type ${type} for ${spelled}`);
  if (type !== 'net') throw new UsageError(`${spelled} ${type}: ckpt joins only network namespaces (net:PID|FILE)`);
  if (/^\d+$/.test(file) ? !existsSync(`/proc/${file}`) : !existsSync(file)) throw new UsageError(`${spelled}: can't access join-ns ${/^\d+$/.test(file) ? `pid /proc/${file}` : `file ${file}`}`);
  return file;
}

const bad = (spelled: string, v: string | undefined) => new UsageError(`invalid argument for ${spelled}: ${v ?? '(none)'}`);

/** a decimal integer in [min, max] */
function int(spelled: string, v: string | undefined, min: number, max = 2 ** 31 - 1): number {
  if (v === undefined || !/^\d+$/.test(v)) throw bad(spelled, v);
  const n = Number(v);
  if (n < min || n > max) throw bad(spelled, v);
  return n;
}

/** criu's parse_size: a number of bytes, or with K, M or G */
function size(spelled: string, v: string | undefined): number {
  const m = /^(\d+)([KMG]?)$/.exec(v ?? '');
  if (!m) throw bad(spelled, v);
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]];
}

/** -x INO,INO: criu's unix_sk_ids_parse */
function inodes(spelled: string, v: string): number[] {
  const out = v.split(',').filter((s) => s !== '').map((s) => int(spelled, s, 1, 2 ** 32 - 1));
  if (!out.length) throw bad(spelled, v);
  return out;
}

/** -v, -vN, -vv..., --verbosity[=N] (criu's case 'v'); "-verbosity=N" as zdtm.py writes it counts as N */
function verbosity(o: CliOptions, v: string | undefined, spelled: string): void {
  if (v === undefined) o.verbosity++;
  else if (/^v+$/.test(v)) o.verbosity += v.length + 1;
  else if (/^\d+$/.test(v)) o.verbosity = Number(v);
  else if (spelled === '-v' && /^erbosity=\d+$/.test(v)) o.verbosity = Number(v.slice(9));
  else throw bad(spelled, v);
}

const CG_MODES = ['none', 'props', 'soft', 'full', 'strict', 'ignore'];

function manageCgroups(o: CliOptions, v: string | undefined, spelled: string): void {
  const mode = v ?? 'soft';
  if (!CG_MODES.includes(mode)) throw new UsageError(`unknown cgroups mode '${mode}' for ${spelled} (one of ${CG_MODES.join(', ')})`);
  o.manageCgroups = mode as CliOptions['manageCgroups'];
}

/** --cgroup-root [controller:]/newroot (criu's new_cg_root_add) */
function cgroupRoot(o: CliOptions, v: string | undefined, spelled: string): void {
  const i = v!.indexOf(':');
  const root = i < 0 ? v! : v!.slice(i + 1);
  if (!root.startsWith('/')) throw bad(spelled, v);
  o.cgroupRoots.push(i < 0 ? { root } : { ctl: v!.slice(0, i), root });
}

/** --external: unix[INO] (criu's exception list for unix sockets) and file[MNT_ID:INO] (hex, criu's external
 * files: dumped by that name, reopened on restore through the fd --inherit-fd gives for it) */
function external(o: CliOptions, v: string | undefined, spelled: string): void {
  const m = /^unix\[(\d+)\]$/.exec(v ?? '');
  if (m) {
    o.extUnixSkInodes.push(int(spelled, m[1], 1, 2 ** 32 - 1));
    return;
  }
  const f = /^file\[([0-9a-fA-F]+):([0-9a-fA-F]+)\]$/.exec(v ?? '');
  if (f) {
    o.externalFiles.push(`file[${BigInt('0x' + f[1]).toString(16)}:${BigInt('0x' + f[2]).toString(16)}]`);
    return;
  }
  const kind = /^([a-z]+)\[/.exec(v ?? '')?.[1];
  throw new Refusal(`${spelled} ${v}: ${kind ? `external ${kind} resources are` : 'this form is'} not supported by ckpt yet (only unix[INO] and file[MNT_ID:INO])`);
}

const NO_NS = 'ckpt dumps and restores no namespaces yet';
/** irmap: criu's inode-to-path scan for watches whose file handles it cannot use */
const IRMAP = 'ckpt finds the path of every inotify and fanotify watch through its file handle (open_by_handle_at on the task\'s mounts) and refuses, by name, a watch whose path it cannot find; it never scans';

export const OPTIONS: readonly OptDef[] = [
  // common
  { long: 'help', short: 'h', arg: 'none', group: 'common', help: 'this text', set: (o) => { o.help = true; } },
  { long: 'version', short: 'V', arg: 'none', group: 'common', help: 'the version of ckpt and the image format it writes', set: (o) => { o.version = true; } },
  { long: 'config', arg: 'required', meta: 'FILE', group: 'common', help: 'read options from FILE (criu\'s format: "name value" a line, # comments); the default files are then not read' },
  { long: 'no-default-config', arg: 'none', group: 'common', help: 'do not read /etc/criu/default.conf and ~/.criu/default.conf ($CRIU_CONFIG_FILE still is)' },
  { long: 'images-dir', short: 'D', arg: 'required', meta: 'DIR', group: 'common', help: 'directory of the images (default: the current one)', set: (o, v) => { o.imagesDir = v!; } },
  { long: 'work-dir', short: 'W', arg: 'required', meta: 'DIR', group: 'common', help: 'directory for the log, the pidfile and action scripts\' cwd (default: the images dir)', set: (o, v) => { o.workDir = v!; } },
  { long: 'log-file', short: 'o', arg: 'required', meta: 'FILE', group: 'common', help: 'log into FILE, relative to the work dir (default: stderr); errors also go to stderr', set: (o, v) => { o.logFile = v!; } },
  { long: 'verbosity', short: 'v', arg: 'optional', meta: 'N', group: 'common', help: 'log level: 0 none, 1 errors, 2 warnings (default), 3 info, 4 debug; -v adds one, -vvv three', set: verbosity },
  { long: 'log-pid', arg: 'none', bool: true, group: 'noop', help: 'criu: a log file per restored task', noop: 'ckpt\'s restored tasks log through one process, into the one log file' },
  { long: 'action-script', arg: 'required', meta: 'FILE', group: 'common', cmds: ['dump', 'restore'], help: 'run FILE at criu\'s hook points (pre-dump, post-dump, pre-restore, post-restore, pre-resume, post-resume) with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and CRTOOLS_INIT_PID set; a failing script fails the command', set: (o, v) => { o.actionScripts.push(v!); } },
  { long: 'display-stats', arg: 'none', bool: true, group: 'common', cmds: ['dump', 'restore'], help: 'print the times and page counts (also kept in DIR/stats-dump)', set: (o, _v, _s, neg) => { o.displayStats = !neg; } },
  { long: 'status-fd', arg: 'required', meta: 'FD', group: 'restore', cmds: ['restore'], help: 'write one zero byte to FD once the tree is restored, then close it', set: (o, v, s) => { o.statusFd = int(s, v, 0); } },
  { long: 'shell-job', short: 'j', arg: 'none', bool: true, group: 'common', cmds: ['dump', 'restore'], help: 'the tree runs from a shell: its terminal and session belong to the shell', set: (o, _v, _s, neg) => { o.shellJob = !neg; } },
  { long: 'file-locks', short: 'l', arg: 'none', bool: true, group: 'common', cmds: ['dump', 'restore'], help: 'dump and restore file locks (a held lock fails the dump without it)', set: (o, _v, _s, neg) => { o.fileLocks = !neg; } },
  { long: 'ext-unix-sk', short: 'x', arg: 'optional', meta: 'INO,...', group: 'common', cmds: ['dump', 'restore'], help: 'allow unix sockets connected to peers outside the tree (dump), reconnect them (restore); the INOs, as criu\'s exception list, name such sockets of the tree (ckpt allows every one with -x)', set: (o, v, s) => { o.extUnixSk = true; if (v !== undefined) o.extUnixSkInodes.push(...inodes(s, v)); } },
  { long: 'external', arg: 'required', meta: 'RES', group: 'common', cmds: ['dump', 'restore'], help: 'unix[INO]: as -x INO; file[MNT_ID:INO] (hex): dump that file as external, for --inherit-fd on restore; other resources (mnt[], dev[], tty[], net[], ...) are refused', set: external },
  { long: 'manage-cgroups', arg: 'optional', meta: 'MODE', group: 'common', help: 'dump: the tasks\' cgroups (always, as criu; ignore: without their directories); restore: none (join existing cgroups only), props (and set their properties), soft (the default: create missing ones, properties of those only), full (properties of all), strict (fail if one exists), ignore (stay in ckpt\'s cgroups)', set: manageCgroups },
  { long: 'cgroup-root', arg: 'required', meta: '[CTL:]/PATH', group: 'common', cmds: ['dump', 'restore'], help: 'dump: walk the hierarchy (CTL, or every one) from PATH instead of the tasks\' cgroups; restore: put the dumped top cgroups at PATH', set: cgroupRoot },
  // dump
  { long: 'tree', short: 't', arg: 'required', meta: 'PID', group: 'dump', cmds: ['dump'], help: 'the root of the tree to dump', set: (o, v, s) => { o.tree = int(s, v, 1, 2 ** 22); } },
  { long: 'leave-running', short: 'R', arg: 'none', group: 'dump', cmds: ['dump'], help: 'let the tree go on after the dump (default: it is killed)', set: (o) => { o.finalState = 'running'; } },
  { long: 'leave-stopped', short: 's', arg: 'none', group: 'dump', cmds: ['dump', 'restore'], help: 'leave every task stopped (SIGSTOP) after the dump, or after the restore before it runs an instruction', set: (o) => { o.finalState = 'stopped'; } },
  { long: 'timeout', arg: 'required', meta: 'N', group: 'dump', cmds: ['dump'], help: 'give up freezing the tree after N seconds (default 10; 0: no limit); the tree is left as it was', set: (o, v, s) => { o.timeout = int(s, v, 0, 1e6); } },
  { long: 'ghost-limit', arg: 'required', meta: 'SIZE', group: 'dump', cmds: ['dump'], help: 'largest deleted file (data on disk) to copy into the images (bytes, or with K, M, G; default 1M)', set: (o, v, s) => { o.ghostLimit = size(s, v); } },
  { long: 'pre-dump-mode', arg: 'required', meta: 'MODE', group: 'noop', help: 'splice or read: how criu\'s pre-dump reads memory', noop: 'ckpt has no pre-dump; dump reads memory with process_vm_readv either way', set: (o, v, s) => { if (v !== 'splice' && v !== 'read') throw bad(s, v); o.preDumpMode = v; } },
  { long: 'link-remap', arg: 'none', bool: true, group: 'dump', cmds: ['dump'], help: 'a deleted file that still has other names gets one more, link_remap.N beside it, for the restore (which removes it); refused without', set: (o, _v, _s, neg) => { o.linkRemap = !neg; } },
  { long: 'ghost-fiemap', arg: 'none', bool: true, group: 'noop', help: 'criu: find a ghost file\'s data with FIEMAP', noop: 'ckpt finds it with SEEK_DATA/SEEK_HOLE' },
  { long: 'tcp-established', arg: 'none', bool: true, group: 'dump', cmds: ['dump', 'restore'], help: 'dump established TCP connections (TCP_REPAIR, the network locked meanwhile: --network-lock), restore them in repair mode until the tree is back; without it or --tcp-close a connected TCP socket is refused, as by criu', set: (o, _v, _s, neg) => { o.tcpEstablished = !neg; } },
  { long: 'skip-in-flight', arg: 'none', bool: true, group: 'dump', cmds: ['dump'], help: 'leave out the connections a listening TCP socket has not accepted yet (else the dump refuses it)', set: (o, _v, _s, neg) => { o.skipInFlight = !neg; } },
  { long: 'tcp-close', arg: 'none', bool: true, group: 'common', cmds: ['dump', 'restore'], help: 'dump TCP connections as they are and restore them closed (shut down both ways)', set: (o, _v, _s, neg) => { o.tcpClose = !neg; } },
  { long: 'network-lock', arg: 'required', meta: 'METHOD', group: 'dump', cmds: ['dump', 'restore'], help: 'how TCP connections are kept silent from their freeze to their restore, with criu\'s rules: iptables (the default: DROP rules per connection), nftables (table inet CRIU-<run id>), skip (none; none is the same); restore takes the dump\'s method (inventory.img) and drops the lock once the tree is restored', set: (o, v, s) => { if (!['iptables', 'nftables', 'skip', 'none'].includes(v!)) throw new UsageError(`invalid value for ${s}: ${v}`); o.networkLock = v === 'none' ? 'skip' : v as CliOptions['networkLock']; } },
  { long: 'weak-sysctls', arg: 'none', bool: true, group: 'restore', cmds: ['restore'], help: 'a sysctl of a restored network namespace that cannot be written is skipped with a warning (else the restore fails)', set: (o, _v, _s, neg) => { o.weakSysctls = !neg; } },
  { long: 'mntns-compat-mode', arg: 'none', bool: true, group: 'noop', help: 'criu: the old mount namespace restore', noop: NO_NS },
  { long: 'force-irmap', arg: 'none', bool: true, group: 'noop', help: 'criu: find the paths of inotify/fanotify watches by scanning the filesystem (irmap)', noop: IRMAP },
  { long: 'irmap-scan-path', arg: 'required', meta: 'DIR', group: 'noop', help: 'criu: where irmap scans for watched inodes', noop: IRMAP },
  { long: 'deprecated', arg: 'none', bool: true, group: 'noop', help: 'criu: allow deprecated features', noop: 'ckpt has none' },
  // restore
  { long: 'restore-detached', short: 'd', arg: 'none', bool: true, group: 'restore', cmds: ['restore'], help: 'exit once the tree is restored (it goes on without ckpt); without it ckpt waits for the root and exits with its status', set: (o, _v, _s, neg) => { o.detached = !neg; } },
  { long: 'daemon', arg: 'none', bool: true, group: 'restore', cmds: ['restore'], help: 'the same as --restore-detached', set: (o, _v, _s, neg) => { o.detached = !neg; } },
  { long: 'restore-sibling', short: 'S', arg: 'none', bool: true, group: 'restore', cmds: ['restore'], help: 'make the restored root a child of ckpt\'s parent (with -d)', set: (o, _v, _s, neg) => { o.sibling = !neg; } },
  { long: 'pidfile', arg: 'required', meta: 'FILE', group: 'restore', cmds: ['restore'], help: 'write the restored root\'s PID into FILE (relative to the work dir)', set: (o, v) => { o.pidfile = v!; } },
  { long: 'join-ns', short: 'J', arg: 'required', meta: 'NS:{PID|NS_FILE}[,EXTRA_OPTS]', group: 'restore', cmds: ['restore'], help: 'the restored root task joins that namespace instead of one restored from the images (net only: its state is left as it is)', set: (o, v, s) => { o.joinNet = parseJoinNs(v!, s); } },
  { long: 'inherit-fd', arg: 'required', meta: 'fd[N]:RES', group: 'restore', cmds: ['restore'], help: 'hand our fd N to the restored tasks in place of RES (socket:[INO], pipe:[INO], a path, /memfd:NAME; file[MNT_ID:INO]: reopened through it)', set: (o, v) => { o.inheritFds.push(v!); } },
  // check
  { long: 'feature', arg: 'required', meta: 'NAME', group: 'check', cmds: ['check'], help: 'check one kernel feature by criu\'s name ("list" lists them); exit 0 when present', set: (o, v) => { o.features.push(v!); } },
  { long: 'all', arg: 'none', group: 'check', cmds: ['check'], help: 'also check what only some trees need', set: (o) => { o.all = true; o.extra = true; o.experimental = true; } },
  { long: 'extra', arg: 'none', bool: true, group: 'check', cmds: ['check'], help: 'as --all', set: (o, _v, _s, neg) => { o.extra = !neg; } },
  { long: 'experimental', arg: 'none', bool: true, group: 'check', cmds: ['check'], help: 'as --all', set: (o, _v, _s, neg) => { o.experimental = !neg; } },
  { long: 'ms', arg: 'none', group: 'check', cmds: ['check'], help: 'refused, as by criu 4.2 (deprecated; the default check is the minimal one)', set: () => { throw new UsageError('--ms is deprecated (criu 4.2 refuses it too); plain check is the minimal one'); } },
  // criu options ckpt cannot honour yet: refused by name
  ...refused([
    ['root', 'r', 'required', 'restoring into another root', NO_NS],
    ['veth-pair', undefined, 'required', 'veth pairs', NO_NS],
    ['cgroup-props', undefined, 'required', 'cgroup properties', 'ckpt takes cgroups as dumped (--manage-cgroups), not these settings'],
    ['cgroup-props-file', undefined, 'required', 'cgroup properties', 'ckpt takes cgroups as dumped (--manage-cgroups), not these settings'],
    ['cgroup-dump-controller', undefined, 'required', 'cgroup controllers', 'ckpt takes cgroups as dumped (--manage-cgroups), not these settings'],
    ['cgroup-yard', undefined, 'required', 'the cgroup yard', 'ckpt takes cgroups as dumped (--manage-cgroups), not these settings'],
    ['freeze-cgroup', undefined, 'required', 'freezing with a cgroup', 'ckpt freezes with ptrace only'],
    ['ext-mount-map', 'M', 'required', 'external mounts', NO_NS],
    ['enable-fs', undefined, 'required', 'mounting filesystems', NO_NS],
    ['skip-mnt', undefined, 'required', 'skipping mounts', NO_NS],
    ['enable-external-sharing', undefined, 'none', 'external shared mounts', NO_NS],
    ['enable-external-masters', undefined, 'none', 'external master mounts', NO_NS],
    ['empty-ns', undefined, 'required', 'empty namespaces', NO_NS],
    ['lsm-profile', undefined, 'required', 'LSM profiles', 'ckpt does not handle LSM profiles yet'],
    ['lsm-mount-context', undefined, 'required', 'LSM mount contexts', NO_NS],
    ['evasive-devices', undefined, 'none', 'other paths to devices', 'ckpt reopens a device only by its dumped path'],
    ['lazy-pages', undefined, 'none', 'lazy pages', 'ckpt restores all memory up front'],
    ['page-server', undefined, 'none', 'the page server', 'ckpt writes pages to the images dir only'],
    ['address', undefined, 'required', 'the page server', 'ckpt writes pages to the images dir only'],
    ['port', undefined, 'required', 'the page server', 'ckpt writes pages to the images dir only'],
    ['ps-socket', undefined, 'required', 'the page server', 'ckpt writes pages to the images dir only'],
    ['prev-images-dir', undefined, 'required', 'incremental dumps', 'ckpt has no pre-dump'],
    ['track-mem', undefined, 'none', 'incremental dumps', 'ckpt has no pre-dump'],
    ['auto-dedup', undefined, 'none', 'deduplication', 'ckpt has no pre-dump'],
    ['libdir', 'L', 'required', 'plugins', 'ckpt has no plugins'],
    ['cpu-cap', undefined, 'optional', 'CPU capability checks', 'ckpt compares the CPU at restore by itself'],
    ['exec-cmd', undefined, 'none', 'exec after restore', 'not implemented'],
    ['close', undefined, 'required', 'closing fds', 'not implemented'],
    ['stream', undefined, 'none', 'image streaming', 'ckpt reads and writes an images dir only'],
    ['tls', undefined, 'none', 'TLS', 'ckpt has no page server'],
    ['tls-no-cn-verify', undefined, 'none', 'TLS', 'ckpt has no page server'],
    ['tls-cacert', undefined, 'required', 'TLS', 'ckpt has no page server'],
    ['tls-cacrl', undefined, 'required', 'TLS', 'ckpt has no page server'],
    ['tls-cert', undefined, 'required', 'TLS', 'ckpt has no page server'],
    ['tls-key', undefined, 'required', 'TLS', 'ckpt has no page server'],
    ['file-validation', undefined, 'required', 'file validation methods', 'not implemented'],
    ['skip-file-rwx-check', undefined, 'none', 'skipping file permission checks', 'not implemented'],
    ['unprivileged', undefined, 'none', 'running without root', 'ckpt needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE'],
    ['allow-uprobes', undefined, 'none', 'uprobes VMAs', 'not implemented'],
  ]),
];

function refused(list: [string, string | undefined, 'none' | 'required' | 'optional', string, string][]): OptDef[] {
  return list.map(([long, short, arg, what, why]) => ({
    long, short, arg, group: 'refused' as const, help: what, refuse: why,
    // criu's BOOL_OPT ones have a --no- form: that is what ckpt does, so it is accepted
    bool: arg === 'none' ? true as const : undefined,
  }));
}

export interface Parsed { opts: CliOptions; operands: string[] }

/**
 * argv (after the program name) with the configuration files' words before it, as criu reads them.
 * Throws UsageError (one line) for anything criu would refuse or ckpt cannot honour.
 */
export function parseCommandLine(argv: string[], configs: { file: string; words: string[] }[] = []): Parsed {
  const o = { ...defaults(), command: 'check' } as CliOptions;
  const given: { def: OptDef; spelled: string; negated: boolean }[] = [];
  const apply = (words: string[], from?: string): string[] => {
    let parsed;
    try {
      parsed = getopt(words, OPTIONS, (s) => !!s.bool);
    } catch (e) {
      if (e instanceof UsageError && from) throw new UsageError(`${from}: ${e.message}`);
      throw e;
    }
    for (const h of parsed.hits) {
      const def = h.spec;
      // criu skips these inside a file: which files are read is decided by the command line alone
      if (from && (def.long === 'config' || def.long === 'no-default-config')) throw new UsageError(`${from}: ${h.spelled} has no effect inside a configuration file`);
      if (def.refuse && !h.negated) {
        o.refused.push(`${h.spelled} is not supported: ${def.help}: ${def.refuse}`);
        continue;
      }
      try {
        def.set?.(o, h.value, h.spelled, h.negated);
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        o.refused.push(e.message);
      }
      given.push({ def, spelled: h.spelled, negated: h.negated });
    }
    return parsed.operands;
  };
  for (const c of configs) {
    const extra = apply(c.words, c.file);
    if (extra.length) throw new UsageError(`${c.file}: '${extra[0]}' is not an option`);
  }
  const operands = apply(argv);
  if (o.help || o.version) return { opts: o, operands };
  const cmd = operands[0];
  if (cmd === undefined) throw new UsageError('command is required (check, dump, restore or cpuinfo)');
  if (OTHER_CRIU_COMMANDS.includes(cmd)) throw new UsageError(`ckpt does not implement criu's ${cmd} command (it has check, dump, restore and cpuinfo)`);
  if (!(COMMANDS as readonly string[]).includes(cmd)) throw new UsageError(`unknown command: ${cmd}`);
  o.command = cmd as Command;
  let rest = operands.slice(1);
  if (o.command === 'cpuinfo') {
    if (rest[0] !== 'dump' && rest[0] !== 'check') throw new UsageError('cpuinfo needs dump or check');
    o.sub = rest[0];
    rest = rest.slice(1);
  }
  if (rest.length) throw new UsageError(`excessive parameter${rest.length > 1 ? 's' : ''} for command ${cmd}: ${rest.join(' ')}`);
  for (const g of given) {
    if (g.def.cmds && !g.def.cmds.includes(o.command) && !g.negated) o.notes.push(`${g.spelled} has no effect on ${o.command}`);
    if (g.def.noop && !g.negated) o.notes.push(`${g.spelled} changes nothing for ckpt: ${g.def.noop}`);
  }
  if (o.command === 'dump' && o.tree === undefined) throw new UsageError('dump needs the tree\'s root: -t PID');
  if (o.command === 'restore' && o.sibling && !o.detached) throw new UsageError('--restore-sibling only makes sense with --restore-detached');
  if (given.some((g) => g.def.long === 'mntns-compat-mode' && !g.negated) && o.command !== 'restore') {
    throw new UsageError('Option --mntns-compat-mode is only valid on restore');
  }
  return { opts: o, operands };
}
