// The image type table: one row per image type, the only place that says which
// magic, message, extra payload and file names belong together (FORMAT.md §3).
import * as x from './extras.js';
import type { ExtraCodec } from './extras.js';

/** The CRIU release whose image format this table and the schema in proto/ follow. */
export const IMAGE_FORMAT = 'CRIU 4.2';

export const IMG_COMMON = 0x54564319;
export const IMG_SERVICE = 0x55105940;

export type HeadMagic = 'none' | 'common' | 'service';
export type Layout = 'plain' | 'pagemap' | 'ghost';

export interface ImageType {
  /** the name CRIT puts in "magic" */
  name: string;
  /** type magic; 0 for raw images (no magic, no framing) */
  magic: number;
  /** message of every entry (after the head entry, if any) */
  message?: string;
  /** how entries follow each other: pagemap (head entry first), ghost (file entry, then chunks or data) */
  layout: Layout;
  extra?: ExtraCodec;
  headMagic: HeadMagic;
  /** file name templates (printf style, as CRIU's imgset_template) */
  files: string[];
  /** W: written by CRIU 4.2, L: legacy (read on restore), S: service file, R: raw */
  state: 'W' | 'L' | 'S' | 'R';
  /** what the image holds, for messages and docs */
  about: string;
}

type Row = [name: string, magic: number, message: string | undefined, files: string, state: ImageType['state'], about: string, extra?: ExtraCodec, layout?: Layout];

const ROWS: Row[] = [
  ['INVENTORY', 0x58313116, 'inventory_entry', 'inventory.img', 'W', 'dump-wide facts (image version, root ids)'],
  ['PSTREE', 0x50273030, 'pstree_entry', 'pstree.img', 'W', 'process tree'],
  ['CORE', 0x55053847, 'core_entry', 'core-%u.img', 'W', 'per-thread registers and task state'],
  ['IDS', 0x54432030, 'task_kobj_ids_entry', 'ids-%u.img', 'W', 'ids of shared kernel objects of a task'],
  ['MM', 0x57492820, 'mm_entry', 'mm-%u.img', 'W', 'address space: VMAs, auxv, mm fields'],
  ['FS', 0x51403912, 'fs_entry', 'fs-%u.img', 'W', 'cwd, root and umask'],
  ['CREDS', 0x54023547, 'creds_entry', 'creds-%u.img', 'L', 'credentials (legacy)'],
  ['FDINFO', 0x56213732, 'fdinfo_entry', 'fdinfo-%u.img', 'W', 'fd numbers -> file ids'],
  ['FILES', 0x56303138, 'file_entry', 'files.img', 'W', 'every open file object'],
  ['PAGEMAP', 0x56084025, 'pagemap_entry', 'pagemap-%lu.img|pagemap-shmem-%lu.img', 'W', 'where the memory pages are (legacy pages-N.img images also carry this magic)', undefined, 'pagemap'],
  ['GHOST_FILE', 0x52583605, 'ghost_file_entry', 'ghost-file-%x.img', 'W', 'deleted-but-open file contents', undefined, 'ghost'],
  ['REMAP_FPATH', 0x59133954, 'remap_file_path_entry', 'remap-fpath.img', 'W', 'file remaps (ghost, linked)'],
  ['MEMFD_INODE', 0x48453499, 'memfd_inode_entry', 'memfd.img', 'W', 'memfd inodes'],
  ['PIPES_DATA', 0x56453709, 'pipe_data_entry', 'pipes-data.img', 'W', 'unread pipe data', x.pipeData],
  ['FIFO_DATA', 0x59333054, 'pipe_data_entry', 'fifo-data.img', 'W', 'unread FIFO data', x.pipeData],
  ['SK_QUEUES', 0x56264026, 'sk_packet_entry', 'sk-queues.img', 'W', 'queued socket data', x.skQueue],
  ['TCP_STREAM', 0x51465506, 'tcp_stream_entry', 'tcp-stream-%x.img', 'W', 'TCP connection state and queues', x.tcpStream],
  ['FILE_LOCKS', 0x54323616, 'file_lock_entry', 'filelocks.img', 'W', 'file locks'],
  ['SECCOMP', 0x64413049, 'seccomp_entry', 'seccomp.img', 'W', 'seccomp filters'],
  ['TIMENS', 0x43114433, 'timens_entry', 'timens-%u.img', 'W', 'time namespace offsets'],
  ['UTSNS', 0x54473203, 'utsns_entry', 'utsns-%u.img', 'W', 'UTS namespace'],
  ['IPC_VAR', 0x53115007, 'ipc_var_entry', 'ipcns-var-%u.img', 'W', 'IPC namespace sysctls'],
  ['IPCNS_SHM', 0x46283044, 'ipc_shm_entry', 'ipcns-shm-%u.img', 'W', 'SysV shared memory segments', x.ipcShm],
  ['IPCNS_MSG', 0x55453737, 'ipc_msg_entry', 'ipcns-msg-%u.img', 'W', 'SysV message queues', x.ipcMsg],
  ['IPCNS_SEM', 0x59573019, 'ipc_sem_entry', 'ipcns-sem-%u.img', 'W', 'SysV semaphore sets', x.ipcSem],
  ['MNTS', 0x55563928, 'mnt_entry', 'mountpoints-%u.img', 'W', 'mount points'],
  ['NETNS', 0x55933752, 'netns_entry', 'netns-%u.img', 'W', 'network namespace'],
  ['NETDEV', 0x57373951, 'net_device_entry', 'netdev-%u.img', 'W', 'network devices'],
  ['USERNS', 0x55474906, 'userns_entry', 'userns-%u.img', 'W', 'user namespace'],
  ['PIDNS', 0x61157326, 'pidns_entry', 'pidns-%u.img', 'W', 'pid namespace'],
  ['CGROUP', 0x59383330, 'cgroup_entry', 'cgroup.img', 'W', 'cgroups'],
  ['TTY_INFO', 0x59453036, 'tty_info_entry', 'tty-info.img', 'W', 'terminals'],
  ['TTY_DATA', 0x59413026, 'tty_data_entry', 'tty-data.img', 'W', 'queued terminal data'],
  ['CPUINFO', 0x61404013, 'cpuinfo_entry', 'cpuinfo.img', 'W', 'CPU features (criu cpuinfo dump)'],
  ['BINFMT_MISC', 0x67343323, 'binfmt_misc_entry', 'binfmt-misc.img|binfmt-misc-%u.img', 'W', 'binfmt_misc entries'],
  ['AUTOFS', 0x49353943, 'autofs_entry', 'autofs-%u.img', 'W', 'autofs mounts'],
  ['BPFMAP_FILE', 0x57506142, 'bpfmap_file_entry', 'bpfmap-file.img', 'L', 'BPF map files (legacy)'],
  ['BPFMAP_DATA', 0x64324033, 'bpfmap_data_entry', 'bpfmap-data.img', 'W', 'BPF map keys and values', x.bpfmapData],
  ['APPARMOR', 0x59423047, 'apparmor_entry', 'apparmor.img', 'W', 'AppArmor policies'],
  ['PIDFD', 0x54435556, 'pidfd_entry', 'pidfd.img', 'L', 'pidfds (legacy)'],
  ['REG_FILES', 0x50363636, 'reg_file_entry', 'reg-files.img', 'L', 'regular files (legacy)'],
  ['EXT_FILES', 0x59255641, 'ext_file_entry', 'ext-files.img', 'L', 'external files (legacy)'],
  ['NS_FILES', 0x61394011, 'ns_file_entry', 'ns-files.img', 'L', 'namespace files (legacy)'],
  ['EVENTFD_FILE', 0x44523722, 'eventfd_file_entry', 'eventfd.img', 'L', 'eventfds (legacy)'],
  ['EVENTPOLL_FILE', 0x45023858, 'eventpoll_file_entry', 'eventpoll.img', 'L', 'epoll fds (legacy)'],
  ['EVENTPOLL_TFD', 0x44433746, 'eventpoll_tfd_entry', 'eventpoll-tfd.img', 'L', 'epoll targets (legacy)'],
  ['SIGNALFD', 0x57323820, 'signalfd_entry', 'signalfd.img', 'L', 'signalfds (legacy)'],
  ['INOTIFY_FILE', 0x48424431, 'inotify_file_entry', 'inotify.img', 'L', 'inotify fds (legacy)'],
  ['INOTIFY_WD', 0x54562009, 'inotify_wd_entry', 'inotify-wd.img', 'L', 'inotify watches (legacy)'],
  ['FANOTIFY_FILE', 0x55096122, 'fanotify_file_entry', 'fanotify.img', 'L', 'fanotify fds (legacy)'],
  ['FANOTIFY_MARK', 0x56506035, 'fanotify_mark_entry', 'fanotify-mark.img', 'L', 'fanotify marks (legacy)'],
  ['PIPES', 0x56513555, 'pipe_entry', 'pipes.img', 'L', 'pipes (legacy)'],
  ['FIFO', 0x58364939, 'fifo_entry', 'fifo.img', 'L', 'FIFOs (legacy)'],
  ['UNIXSK', 0x54373943, 'unix_sk_entry', 'unixsk.img', 'L', 'unix sockets (legacy)'],
  ['INETSK', 0x56443851, 'inet_sk_entry', 'inetsk.img', 'L', 'inet sockets (legacy)'],
  ['PACKETSK', 0x60454618, 'packet_sock_entry', 'packetsk.img', 'L', 'packet sockets (legacy)'],
  ['NETLINK_SK', 0x58005614, 'netlink_sk_entry', 'netlinksk.img', 'L', 'netlink sockets (legacy)'],
  ['TTY_FILES', 0x59433025, 'tty_file_entry', 'tty.img', 'L', 'terminal files (legacy)'],
  ['TUNFILE', 0x57143751, 'tunfile_entry', 'tunfile.img', 'L', 'tun files (legacy)'],
  ['TIMERFD', 0x50493712, 'timerfd_entry', 'timerfd.img', 'L', 'timerfds (legacy)'],
  ['SIGACT', 0x55344201, 'sa_entry', 'sigacts-%u.img', 'L', 'signal handlers (legacy)'],
  ['VMAS', 0x54123737, 'vma_entry', 'vmas-%u.img', 'L', 'VMAs (legacy)'],
  ['RLIMIT', 0x57113925, 'rlimit_entry', 'rlimit-%u.img', 'L', 'rlimits (legacy)'],
  ['ITIMERS', 0x57464056, 'itimer_entry', 'itimers-%u.img', 'L', 'interval timers (legacy)'],
  ['POSIX_TIMERS', 0x52603957, 'posix_timer_entry', 'posix-timers-%u.img', 'L', 'POSIX timers (legacy)'],
  ['SIGNAL', 0x59255647, 'siginfo_entry', 'signal-s-%u.img|signal-p-%u.img', 'L', 'pending signals (legacy)'],
  ['STATS', 0x57093306, 'stats_entry', 'stats-%s', 'S', 'dump/restore statistics'],
  ['IRMAP_CACHE', 0x57004059, 'irmap_cache_entry', 'irmap-cache', 'S', 'inode -> path cache'],
  // Names CRIT's table has that are not image types: decoding them is refused by name.
  ['IMG_COMMON', IMG_COMMON, undefined, '', 'L', 'head magic of images'],
  ['IMG_SERVICE', IMG_SERVICE, undefined, '', 'L', 'head magic of service images'],
  ['KDAT', 0x57023458, undefined, 'criu.kdat', 'L', "CRIU's kernel-feature cache (a raw C struct)"],
  ['CRTOOLS_IMAGES_V1_1', 2, undefined, '', 'L', 'an image version number'],
  // Raw images: no magic, no framing.
  ['PAGES', 0, undefined, 'pages-%u.img', 'R', 'raw page data (described by pagemap-*.img)'],
  ['IFADDR', 0, undefined, 'ifaddr-%u.img', 'R', "`ip addr save` output"],
  ['ROUTE', 0, undefined, 'route-%u.img', 'R', "`ip route save` output"],
  ['ROUTE6', 0, undefined, 'route6-%u.img', 'R', "`ip -6 route save` output"],
  ['RULE', 0, undefined, 'rule-%u.img', 'R', "`ip rule save` output"],
  ['IPTABLES', 0, undefined, 'iptables-%u.img', 'R', 'iptables-save text'],
  ['IP6TABLES', 0, undefined, 'ip6tables-%u.img', 'R', 'ip6tables-save text'],
  ['NFTABLES', 0, undefined, 'nftables-%u.img', 'R', 'nft ruleset text'],
  ['NETNF_CT', 0, undefined, 'netns-ct-%u.img', 'R', 'conntrack netlink messages'],
  ['NETNF_EXP', 0, undefined, 'netns-exp-%u.img', 'R', 'conntrack expectation netlink messages'],
  ['TMPFS_IMG', 0, undefined, 'tmpfs-%u.tar.gz.img', 'R', 'tmpfs contents (tar.gz)'],
  ['TMPFS_DEV', 0, undefined, 'tmpfs-dev-%u.tar.gz.img', 'R', 'tmpfs contents (tar.gz)'],
];

function headMagicOf(name: string, state: ImageType['state']): HeadMagic {
  if (name === 'INVENTORY' || state === 'R') return 'none';
  return name === 'STATS' || name === 'IRMAP_CACHE' ? 'service' : 'common';
}

export const IMAGE_TYPES: readonly ImageType[] = ROWS.map(([name, magic, message, files, state, about, extra, layout]) => ({
  name, magic, message, files: files ? files.split('|') : [], state, about, extra,
  layout: layout ?? 'plain',
  headMagic: headMagicOf(name, state),
}));

const byName = new Map(IMAGE_TYPES.map((t) => [t.name, t]));
const byMagic = new Map(IMAGE_TYPES.filter((t) => t.magic !== 0).map((t) => [t.magic, t]));

export function typeByName(name: string): ImageType | undefined {
  return byName.get(name);
}

export function typeByMagic(magic: number): ImageType | undefined {
  return byMagic.get(magic);
}

// 'core' -> core-%u.img as { prefix: 'core-', conv: 'u', suffix: '.img' }: a
// template's stem is its name before the id
interface Template {
  prefix: string;
  conv?: string;
  suffix: string;
}
const templatesByStem = new Map<string, Template[]>();
for (const t of IMAGE_TYPES) {
  for (const tpl of t.files) {
    const m = /^(.*?)%l?([uxs])(.*)$/.exec(tpl);
    const parsed: Template = m ? { prefix: m[1], conv: m[2], suffix: m[3] } : { prefix: tpl, suffix: '' };
    const stem = m ? m[1].replace(/-$/, '') : tpl.replace(/\.img$/, '');
    templatesByStem.set(stem, [...(templatesByStem.get(stem) ?? []), parsed]);
  }
}

/**
 * The file name CRIU gives an image, from its template: the stem is the name
 * before the id, and the id is printed as the template says (decimal; hex for
 * ghost files and TCP streams; text for stats).
 *   imageFileName('core', 42)         -> 'core-42.img'
 *   imageFileName('ghost-file', 31)   -> 'ghost-file-1f.img'
 *   imageFileName('pagemap-shmem', 7) -> 'pagemap-shmem-7.img'
 *   imageFileName('files')            -> 'files.img'
 */
export function imageFileName(stem: string, id?: number | bigint | string): string {
  const tpl = templatesByStem.get(stem)?.find((t) => (t.conv !== undefined) === (id !== undefined));
  if (!tpl) throw new Error(`no CRIU image is named ${stem}${id === undefined ? '' : '-ID'}.img`);
  if (id === undefined) return tpl.prefix;
  return tpl.prefix + (tpl.conv === 'x' && typeof id !== 'string' ? id.toString(16) : String(id)) + tpl.suffix;
}

/** The image type whose file name template matches a base name, e.g. "pages-1.img" -> PAGES. */
export function typeByFileName(base: string): ImageType | undefined {
  for (const t of IMAGE_TYPES) {
    for (const tpl of t.files) {
      if (templateRegExp(tpl).test(base)) return t;
    }
  }
  return undefined;
}

function templateRegExp(tpl: string): RegExp {
  const esc = tpl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp('^' + esc.replace(/%l?[ud]/g, '-?\\d+').replace(/%x/g, '[0-9a-f]+').replace(/%s/g, '[^/]+') + '$');
}
