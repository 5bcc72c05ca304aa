// `ckpt check [--all]`: probes the kernel features dump and restore rely on. Each missing feature
// is printed with what it breaks. Required features stop at the first failure ("Does not look
// good."), like CRIU; --all adds the features needed only for some trees.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { native } from './native.js';

export interface CheckResult { ok: boolean; lines: string[] }

interface Probe { name: string; breaks: string; run: () => string | null; warnOnly?: boolean }

function errText(code: number): string {
  return code === 0 ? '' : `errno ${-code}`;
}

function freePid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim());
  const used = new Set(readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number));
  for (let i = 0; i < 1000; i++) {
    const p = Math.floor(max / 2) + Math.floor(Math.random() * (max / 2 - 1));
    if (!used.has(p)) return p;
  }
  return max - 1;
}

/** CONFIG options of CRIU's "Installation" page, with what each one is needed for. */
const CONFIGS: [string, string][] = [
  ['CONFIG_CHECKPOINT_RESTORE', 'checkpoint/restore support (kcmp, map_files, PR_SET_MM_MAP, fdinfo details)'],
  ['CONFIG_NAMESPACES', 'namespaces'], ['CONFIG_UTS_NS', 'UTS namespaces'], ['CONFIG_IPC_NS', 'IPC namespaces'],
  ['CONFIG_PID_NS', 'PID namespaces'], ['CONFIG_NET_NS', 'network namespaces'],
  ['CONFIG_FHANDLE', 'inotify/fanotify watches (file handles)'], ['CONFIG_EVENTFD', 'eventfd files'],
  ['CONFIG_EPOLL', 'epoll files'], ['CONFIG_INOTIFY_USER', 'inotify files'], ['CONFIG_FANOTIFY', 'fanotify files'],
  ['CONFIG_UNIX_DIAG', 'unix sockets (peer discovery via sock_diag)'], ['CONFIG_INET_DIAG', 'TCP/UDP sockets'],
  ['CONFIG_INET_UDP_DIAG', 'UDP sockets'], ['CONFIG_PACKET_DIAG', 'packet sockets'], ['CONFIG_NETLINK_DIAG', 'netlink sockets'],
  ['CONFIG_NETFILTER_XT_MARK', 'network locking with iptables'], ['CONFIG_TUN', 'tun/tap devices'],
  ['CONFIG_MEM_SOFT_DIRTY', 'incremental dumps (pre-dump, memory tracking)'], ['CONFIG_USERFAULTFD', 'lazy pages'],
  ['CONFIG_TIME_NS', 'restoring clocks in a time namespace'],
];

function readConfig(): Map<string, string> | undefined {
  if (!existsSync('/proc/config.gz')) return undefined;
  const text = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (line.startsWith('CONFIG_') && i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

export function check(all: boolean): CheckResult {
  const n = native();
  let pt: Record<string, number> | undefined;
  const ptrace = () => (pt ??= n.probePtrace());
  let simple: Record<string, number> | undefined;
  const sp = () => (simple ??= n.probeSimple());
  const required: Probe[] = [
    { name: 'ptrace PTRACE_SEIZE', breaks: 'dump: tasks cannot be frozen', run: () => errText(ptrace().seize) || null },
    { name: 'ptrace PTRACE_INTERRUPT', breaks: 'dump: tasks cannot be stopped', run: () => errText(ptrace().interrupt ?? -1) || ((ptrace().stopStatus >> 8) === 0x8005 ? null : `stop status 0x${ptrace().stopStatus.toString(16)}`) },
    { name: 'ptrace PTRACE_GETREGSET', breaks: 'dump: registers cannot be read', run: () => errText(ptrace().getregset ?? -1) || null },
    { name: '/proc/PID/map_files', breaks: 'dump: mapped files cannot be identified', run: () => {
      try {
        const e = readdirSync('/proc/self/map_files')[0];
        readlinkSync(`/proc/self/map_files/${e}`);
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    } },
    { name: 'kcmp', breaks: 'dump: shared files, mm, fs and fd tables cannot be detected', run: () => errText(sp().kcmp) || null },
    { name: 'prctl PR_SET_MM_MAP', breaks: 'restore: mm fields (brk, auxv, exe) cannot be set', run: () => errText(sp().mmMap) || null },
  ];
  const extra: Probe[] = [
    { name: 'clone3 with set_tid', breaks: 'restore: tasks cannot get their original PIDs', run: () => errText(n.probeClone3SetTid(freePid())) || null },
    { name: 'memfd_create', breaks: 'dump/restore of memfd files and shared anonymous memory', run: () => errText(sp().memfd) || null },
    { name: 'seccomp', breaks: 'dump of tasks under seccomp', run: () => errText(sp().seccomp) || null },
    { name: 'PTRACE_O_SUSPEND_SECCOMP', breaks: 'dump of tasks with seccomp filters', run: () => errText(ptrace().suspendSeccomp ?? -1) || null },
    { name: 'PTRACE_SECCOMP_GET_FILTER', breaks: 'dump of seccomp filters', run: () => errText(ptrace().seccompFilter ?? -1) || null },
    { name: 'PTRACE_GET_RSEQ_CONFIGURATION', breaks: 'C/R of processes which are using rseq() (glibc >= 2.35)', run: () => errText(ptrace().rseq ?? -1) || null },
    { name: 'userfaultfd', breaks: 'lazy pages (restore --lazy-pages)', run: () => errText(sp().userfaultfd) || null },
    { name: 'soft-dirty tracking', breaks: 'incremental dumps (pre-dump); full dumps are unaffected', warnOnly: true, run: () => errText(sp().softDirty) || null },
    { name: 'time namespaces', breaks: 'restoring monotonic/boottime clocks (timens)', run: () => (existsSync('/proc/self/ns/time') ? null : 'no /proc/self/ns/time') },
  ];
  const lines: string[] = [];
  for (const p of required) {
    const r = p.run();
    if (r !== null) {
      lines.push(`Error: ${p.name} is not supported (${r}): ${p.breaks}`);
      lines.push('Does not look good.');
      return { ok: false, lines };
    }
  }
  let bad = false;
  if (all) {
    for (const p of extra) {
      const r = p.run();
      if (r === null) continue;
      lines.push(`${p.warnOnly ? 'Warn' : 'Error'}: ${p.name} is not supported (${r}): breaks ${p.breaks}`);
      if (!p.warnOnly) bad = true;
    }
    const cfg = readConfig();
    if (cfg) {
      for (const [opt, what] of CONFIGS) {
        const v = cfg.get(opt);
        if (v !== 'y' && v !== 'm') {
          const warnOnly = opt === 'CONFIG_MEM_SOFT_DIRTY';
          lines.push(`${warnOnly ? 'Warn' : 'Error'}: ${opt} is not set: breaks ${what}`);
          if (!warnOnly) bad = true;
        }
      }
    } else {
      lines.push('Info: /proc/config.gz is not present; kernel CONFIG options were not checked');
    }
  }
  lines.push(bad ? 'Looks good but some kernel features are missing\nwhich, depending on your process tree, may cause\ndump or restore failure.' : 'Looks good.');
  return { ok: !bad, lines };
}

/** criu's check_ipt_legacy: iptables-save (or iptables-legacy-save) with the legacy backend, the same for IPv6 */
function iptablesLegacy(): string | null {
  const legacy = (bins: string[]) => bins.some((b) => {
    const r = spawnSync(b, ['-V'], { encoding: 'utf8' });
    return r.status === 0 && !r.stdout.includes('nf_tables');
  });
  if (!legacy(['iptables-save', 'iptables-legacy-save'])) return 'no iptables with the legacy backend';
  if (!legacy(['ip6tables-save', 'ip6tables-legacy-save'])) return 'no ip6tables with the legacy backend';
  return null;
}

/** criu's kerndat_has_nftables_concat, in a network namespace of its own: the nftables lock needs set concatenations */
function nftablesConcat(): string | null {
  const r = spawnSync('unshare', ['-n', 'nft', '-f', '-'], { input: 'create table inet CRIU\nadd set inet CRIU conn { type ipv4_addr . inet_service ;}\n', encoding: 'utf8' });
  if (r.error) return `cannot run unshare -n nft: ${r.error.message}`;
  return r.status === 0 ? null : `nft cannot make the lock's sets: ${(r.stderr || '').trim().split('\n')[0]}`;
}

/**
 * `ckpt check --feature NAME`: criu's feature names (cr-check.c). A feature ckpt relies on is probed as
 * criu probes it (or as ckpt uses it); one whose resources ckpt does not dump or restore, or that it does
 * not use, answers no with the reason and exits 1, so that a caller (ZDTM) skips what needs it.
 */
export function checkFeature(name: string): CheckResult {
  const n = () => native();
  const ptrace = () => n().probePtrace();
  const simple = () => n().probeSimple();
  const has = (path: string) => (existsSync(path) ? null : `no ${path}`);
  const errno = (code: number | undefined) => (code === 0 ? null : errText(code ?? -1) || 'not supported');
  let feats: Record<string, number> | undefined;
  const feat = (k: string) => errno((feats ??= n().probeFeatures())[k]);
  // Features ckpt does not use, or whose resources it does not dump yet: a test that needs one must skip.
  const net = (what: string) => () => `ckpt does not dump ${what} yet (the network issue)`;
  // criu: built with libnftables; ckpt saves and restores a dumped namespace's ruleset with the nft tool (netns.ts)
  const nftTool = () => (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status === 0 ? null : 'no nft tool');
  const notUsed = (what: string) => () => `ckpt does not use ${what}`;
  const probes: Record<string, () => string | null> = {
    mnt_id: () => (/^mnt_id:/m.test(readFileSync('/proc/self/fdinfo/0', 'latin1')) ? null : 'no mnt_id in /proc/PID/fdinfo'),
    mem_dirty_track: () => errno(simple().softDirty),
    aio_remap: () => errno(simple().aioRemap),
    timerfd: () => errno(simple().timerfd),
    tun: () => has('/dev/net/tun'),
    tun_ns: net('tun devices'),
    userns: () => has('/proc/self/ns/user'),
    fdinfo_lock: () => errno(simple().fdinfoLock),
    seccomp_suspend: () => errno(ptrace().suspendSeccomp),
    seccomp_filters: () => errno(ptrace().seccompFilter),
    loginuid: () => has('/proc/self/loginuid'),
    cgroupns: () => has('/proc/self/ns/cgroup'),
    autofs: () => (/\sautofs$/m.test(readFileSync('/proc/filesystems', 'latin1')) ? null : 'autofs is not in /proc/filesystems'),
    tcp_half_closed: () => errno(simple().tcpHalfClosed),
    compat_cr: () => 'ckpt does not dump 32-bit (compat) tasks',
    uffd: () => errno(simple().userfaultfd),
    'uffd-noncoop': notUsed('lazy pages (restore --lazy-pages is refused)'),
    can_map_vdso: () => feat('mapVdso'),
    sk_ns: net('sockets of other network namespaces'),
    sk_unix_file: () => 'ckpt does not open unix sockets by their bound file (SIOCUNIXFILE)',
    net_diag_raw: () => ([2, 10].every((f) => n().inetDiag(f, 255, 0xffffffff) !== -2) ? null : 'no sock_diag for raw sockets'),
    nsid: net('network namespaces'), link_nsid: net('network namespaces'), external_net_ns: net('network namespaces'),
    newifindex: net('network devices'),
    kcmp_epoll: () => feat('kcmpEpoll'),
    timens: () => has('/proc/self/ns/time'),
    clone3_set_tid: () => errno(n().probeClone3SetTid(freePid())),
    nftables: nftTool, has_ipt_legacy: iptablesLegacy, network_lock_nftables: nftablesConcat,
    pidfd_store: notUsed('a pidfd store (criu\'s pre-dump pid reuse check through RPC)'),
    ns_pid: () => (/^NSpid:/m.test(readFileSync('/proc/self/status', 'latin1')) ? null : 'no NSpid in /proc/PID/status'),
    apparmor_stacking: () => 'ckpt does not dump AppArmor profiles',
    sockopt_buf_lock: () => errno(simple().sockoptBufLock),
    memfd_hugetlb: () => feat('memfdHugetlb'),
    move_mount_set_group: () => 'ckpt does not dump mount namespaces',
    openat2: notUsed('openat2'),
    get_rseq_conf: () => errno(ptrace().rseq),
    ipv6_freebind: () => errno(simple().ipv6Freebind),
    pagemap_scan: notUsed('the PAGEMAP_SCAN ioctl (it reads /proc/PID/pagemap)'),
    timer_cr_ids: () => feat('timerCrIds'),
    overlayfs_maps: () => 'ckpt does not identify file mappings on overlayfs',
    breakpoints: () => 'ckpt does not dump hardware breakpoints (debug registers)',
    pagemap_scan_guard_pages: () => feat('guardPages'),
  };
  if (name === 'list') return { ok: true, lines: [Object.keys(probes).join(' ')] };
  if (!(name in probes)) return { ok: false, lines: [`Error: Unknown feature ${name} (ckpt check --feature list names them)`] };
  const why = probes[name]();
  return why === null ? { ok: true, lines: [`${name} is supported`] } : { ok: false, lines: [`Warn: ${name} is not supported (${why})`] };
}
