// The root task's own network namespace, as CRIU 4.2's net.c dumps and restores it (one namespace: a task of
// the tree in yet another one is refused by ids.ts). Images, with the namespace's id N (ids.ts: after ckpt's own):
//   netns-N.img   sysctls: ipv4/ipv6 conf of "default" and "all", net.unix, ping_group_range (NetnsEntry)
//   netdev-N.img  the links (loopback only: any other kind is refused by name at dump and restore)
//   ifaddr-N, route-N, route6-N, rule-N: `ip ... save`; iptables-N, ip6tables-N: iptables-legacy-save (the
//   legacy backend, as criu with libnftables: nft-backed rules are in nftables-N); nftables-N: `nft list ruleset`;
//   netns-ct-N, netns-exp-N: the conntrack table (NETLINK_NETFILTER messages; criu writes the same dump twice).
// The external tools run as criu runs them, in the namespace: ckpt's main thread enters it (native rtnl.cc), so
// that the children it spawns, the /proc/sys/net files it opens and its rtnetlink sockets are all of it.
//
// The network lock of a dumped namespace is criu's network_lock_internal, on the whole namespace (no rule per
// connection): iptables: a CRIU chain accepting SOCCR_MARK and dropping the rest, jumped to from INPUT and
// OUTPUT (iptables-restore --noflush, v4 and v6); nftables: table "inet CRIU-<run id>" (truncated as criu's
// 32-byte buffer) with input/output chains of policy drop accepting the mark. The lock's rules are in the
// namespace when its tables are dumped, so a restore brings them back, and the helper drops them once the tree
// is restored (restoreUnlock: run in the root task's namespace through nsenter).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, imageFileName } from '@ckpt/images';
import { native, type RtnlLink } from './native.js';
import { writeImage } from './images-out.js';
import { DumpError, type Log } from './log.js';
import { nftTable, SOCCR_MARK, type NetLockMethod } from './netlock.js';

// criu's devconfs4 / devconfs6 (net.c): the order is the images'
const DEVCONFS4 = ['accept_local', 'accept_redirects', 'accept_source_route', 'arp_accept', 'arp_announce', 'arp_filter', 'arp_ignore',
  'arp_notify', 'bootp_relay', 'disable_policy', 'disable_xfrm', 'force_igmp_version', 'forwarding', 'igmpv2_unsolicited_report_interval',
  'igmpv3_unsolicited_report_interval', 'log_martians', 'medium_id', 'promote_secondaries', 'proxy_arp', 'proxy_arp_pvlan', 'route_localnet',
  'rp_filter', 'secure_redirects', 'send_redirects', 'shared_media', 'src_valid_mark', 'tag', 'ignore_routes_with_linkdown',
  'drop_gratuitous_arp', 'drop_unicast_in_l2_multicast'];
const DEVCONFS6 = ['accept_dad', 'accept_ra', 'accept_ra_defrtr', 'accept_ra_from_local', 'accept_ra_min_hop_limit', 'accept_ra_mtu',
  'accept_ra_pinfo', 'accept_ra_rt_info_max_plen', 'accept_ra_rtr_pref', 'accept_redirects', 'accept_source_route', 'autoconf',
  'dad_transmits', 'disable_ipv6', 'drop_unicast_in_l2_multicast', 'drop_unsolicited_na', 'force_mld_version', 'force_tllao',
  'forwarding', 'hop_limit', 'ignore_routes_with_linkdown', 'keep_addr_on_down', 'max_addresses', 'max_desync_factor',
  'mldv1_unsolicited_report_interval', 'mldv2_unsolicited_report_interval', 'mtu', 'ndisc_notify', 'optimistic_dad', 'proxy_ndp',
  'regen_max_retry', 'router_probe_interval', 'router_solicitation_delay', 'router_solicitation_interval', 'router_solicitations',
  'stable_secret', 'suppress_frag_ndisc', 'temp_prefered_lft', 'temp_valid_lft', 'use_oif_addrs_only', 'use_optimistic', 'use_tempaddr'];
const STR_CONFS = new Set(['stable_secret']);
const ARPHRD_LOOPBACK = 772;

interface Sysctl { type: 'CTL_32' | 'CTL_STR'; iarg?: number; sarg?: string }

/** one sysctl as criu reads it: absent or unreadable (stable_secret before it is set: EIO) -> no value */
function readSysctl(path: string, str: boolean): Sysctl {
  const e: Sysctl = { type: str ? 'CTL_STR' : 'CTL_32' };
  let text: string;
  try {
    text = readFileSync(`/proc/sys/${path}`, 'utf8').replace(/\n$/, '');
  } catch {
    return e;
  }
  if (str) e.sarg = text;
  else e.iarg = Number.parseInt(text, 10);
  return e;
}

const confs = (proto: 'ipv4' | 'ipv6', tgt: string) => (proto === 'ipv4' ? DEVCONFS4 : DEVCONFS6)
  .map((n) => readSysctl(`net/${proto}/conf/${tgt}/${n}`, STR_CONFS.has(n)));


/** run cmd (argv) with input in the thread's namespace; throws naming it and its stderr */
function tool(cmd: string[], input: string | Buffer | undefined, fail: (msg: string) => Error): string {
  // from a file, as criu's tmpfile: `ip route restore` seeks its input
  const fd = input === undefined ? -1 : seekable(input);
  let r;
  try {
    r = spawnSync(cmd[0], cmd.slice(1), { stdio: [fd >= 0 ? fd : 'ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.toString() || r.stdout.toString()).trim().split('\n')[0] || `exit ${r.status}`;
    throw fail(`${cmd.join(' ')}: ${why}`);
  }
  return r.stdout.toString('latin1');
}

let tmpSeq = 0;
function seekable(data: string | Buffer): number {
  const p = join(tmpdir(), `ckpt-netns-${process.pid}-${tmpSeq++}`);
  writeFileSync(p, data, { mode: 0o600 });
  try {
    return openSync(p, 'r');
  } finally {
    rmSync(p, { force: true });
  }
}

const quiet = (cmd: string[], input?: string) => {
  const r = spawnSync(cmd[0], cmd.slice(1), { input, stdio: ['pipe', 'ignore', 'ignore'] });
  return !r.error && r.status === 0;
};

/** criu's get_legacy_iptables_bin: the plain tool unless it is the nf_tables backend, else its -legacy twin; none: undefined */
function legacyIptables(v6: boolean, restore: boolean): string | undefined {
  const base = `${v6 ? 'ip6tables' : 'iptables'}`;
  for (const bin of [`${base}-${restore ? 'restore' : 'save'}`, `${base}-legacy-${restore ? 'restore' : 'save'}`]) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (!r.error && r.status === 0 && !/nf_tables/.test(r.stdout)) return bin;
  }
  return undefined;
}

/** the calling (main) thread inside the namespace at path while fn runs */
function inNetns<T>(path: string, fn: () => T): T {
  const old = native().netnsEnter(path);
  if (old < 0) throw new DumpError(`cannot enter the network namespace ${path}: errno ${-old}`);
  try {
    return fn();
  } finally {
    native().netnsReturn(old);
  }
}

/** a network namespace's lock (criu's network_lock_internal / network_unlock_internal) */
const IPT_LOCK = `*filter\n:CRIU - [0:0]\n-I INPUT -j CRIU\n-I OUTPUT -j CRIU\n-A CRIU -m mark --mark ${SOCCR_MARK} -j ACCEPT\n-A CRIU -j DROP\nCOMMIT\n`;
const IPT_UNJUMP = '*filter\n:CRIU - [0:0]\n-D INPUT -j CRIU\n-D OUTPUT -j CRIU\nCOMMIT\n';
const IPT_DROP_CHAIN = '*filter\n:CRIU - [0:0]\n-X CRIU\nCOMMIT\n';
const nftLock = (table: string) => [`create table ${table}`,
  ...['output', 'input'].flatMap((c) => [`add chain ${table} ${c} { type filter hook ${c} priority 0; policy drop; }`, `add rule ${table} ${c} meta mark ${SOCCR_MARK} accept`])].join('\n') + '\n';

/** The dump of the root task's network namespace: entered for the whole dump, locked, its state written. */
export class NetnsDump {
  private old = -1;
  private locked = false;

  private constructor(readonly path: string, readonly ino: number, private method: NetLockMethod, private runId: string, private log: Log) {}

  /** the root task's namespace when it is not ours (else undefined) */
  static of(pid: number, method: NetLockMethod, runId: string, log: Log): NetnsDump | undefined {
    const path = `/proc/${pid}/ns/net`;
    let ino: number;
    try {
      ino = statSync(path).ino;
    } catch {
      return undefined; // no such task: the freeze says so
    }
    return ino === statSync('/proc/self/ns/net').ino ? undefined : new NetnsDump(path, ino, method, runId, log);
  }

  /** ckpt's main thread into the namespace (sock_diag, sysctls, tools all see it) */
  enter(): void {
    const old = native().netnsEnter(this.path);
    if (old < 0) throw new DumpError(`cannot enter the network namespace of the tree (${this.path}): errno ${-old}`);
    this.old = old;
  }

  leave(): void {
    if (this.old < 0) return;
    native().netnsReturn(this.old);
    this.old = -1;
  }

  /** before the freeze (criu's network_lock, the namespace's case) */
  lock(): void {
    if (this.method === 'skip') return;
    this.log.info(`Lock network (the tree's network namespace, ${this.method})`);
    const fail = (m: string) => new DumpError(`Locking network failed: ${m}`);
    if (this.method === 'nftables') {
      tool(['nft', '-f', '-'], nftLock(nftTable(this.runId)), fail);
    } else {
      tool(['iptables-restore', '-w', '--noflush'], IPT_LOCK, fail);
      try {
        tool(['ip6tables-restore', '-w', '--noflush'], IPT_LOCK, fail);
      } catch (e) {
        this.locked = true;
        this.unlock();
        throw e;
      }
    }
    this.locked = true;
  }

  /** a failed dump or -R (criu's network_unlock_internal), in the namespace; failures are logged */
  unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    if (this.old < 0) {
      try {
        this.enter();
      } catch (e) {
        this.log.error(`Unlocking the network of the tree failed: ${(e as Error).message}`);
        return;
      }
      try {
        this.unlockHere();
      } finally {
        this.leave();
      }
      return;
    }
    this.unlockHere();
  }

  private unlockHere(): void {
    this.log.info('Unlock network');
    let ok = true;
    if (this.method === 'nftables') {
      ok = quiet(['nft', 'delete', 'table', ...nftTable(this.runId).split(' ')]);
    } else {
      for (const v6 of [false, true]) ok = quiet([v6 ? 'ip6tables-restore' : 'iptables-restore', '-w', '--noflush'], IPT_UNJUMP) && ok;
      // the nft backend may hold a jump twice (criu's iptables_has_criu_jump_target)
      if (quiet(['iptables', '-w', '-C', 'INPUT', '-j', 'CRIU'])) for (const v6 of [false, true]) quiet([v6 ? 'ip6tables-restore' : 'iptables-restore', '-w', '--noflush'], IPT_UNJUMP);
      for (const v6 of [false, true]) ok = quiet([v6 ? 'ip6tables-restore' : 'iptables-restore', '-w', '--noflush'], IPT_DROP_CHAIN) && ok;
    }
    if (!ok) this.log.error('Unlocking the network of the tree failed');
  }

  /** every image of the namespace (with id), as criu's dump_net_ns; throws naming what cannot be dumped */
  dump(dir: string, id: number): void {
    const links = native().rtnlLinks();
    if (typeof links === 'number') throw new DumpError(`cannot list the links of the tree's network namespace: errno ${-links}`);
    const fail = (m: string) => new DumpError(`cannot dump the tree's network namespace: ${m}`);
    const netdevs = links.map((l) => this.netdev(l, id));
    const raw = (stem: string, cmd: string[] | undefined) => writeFileSync(join(dir, imageFileName(stem, id)), cmd ? tool(cmd, undefined, fail) : '', 'latin1');
    writeImage(dir, 'netdev', id, { magic: 'NETDEV', entries: netdevs });
    raw('ifaddr', ['ip', 'addr', 'save']);
    raw('route', ['ip', 'route', 'save']);
    raw('route6', ['ip', '-6', 'route', 'save']);
    const rule = spawnSync('ip', ['rule', 'save'], { stdio: ['ignore', 'pipe', 'ignore'] });
    if (!rule.error && rule.status === 0) writeFileSync(join(dir, imageFileName('rule', id)), rule.stdout);
    else this.log.warn('Check if "ip rule save" is supported!');
    for (const v6 of [false, true]) {
      const bin = legacyIptables(v6, false);
      if (!bin) this.log.info(`skipping ${v6 ? 'ip6tables' : 'iptables'} dump - no legacy version present`);
      raw(v6 ? 'ip6tables' : 'iptables', bin ? ['sh', '-c', bin] : undefined);
    }
    raw('nftables', ['nft', 'list', 'ruleset']);
    writeImage(dir, 'netns', id, { magic: 'NETNS', entries: [{
      def_conf4: confs('ipv4', 'default'), all_conf4: confs('ipv4', 'all'), def_conf6: confs('ipv6', 'default'), all_conf6: confs('ipv6', 'all'),
      unix_conf: [readSysctl('net/unix/max_dgram_qlen', false)], ipv4_sysctl: [readSysctl('net/ipv4/ping_group_range', true)],
    }] });
    // the conntrack table, twice: criu's netns-exp image holds the same request's answer
    for (const stem of ['netns-ct', 'netns-exp']) {
      const ct = native().nfctDump();
      if (typeof ct === 'number') throw fail(`the conntrack table: errno ${-ct}`);
      writeFileSync(join(dir, imageFileName(stem, id)), ct);
    }
  }

  /** criu's dump_one_netdev for what ckpt restores: the loopback; another link refused by name and kind */
  private netdev(l: RtnlLink, id: number): any {
    if (l.type !== ARPHRD_LOOPBACK) {
      throw new DumpError(`the tree's network namespace has link ${l.name} (${l.kind || `type ${l.type}`}): ckpt restores only the loopback`);
    }
    return { type: 'LOOPBACK', ifindex: l.index, mtu: l.mtu, flags: l.flags, name: l.name, conf4: confs('ipv4', l.name), conf6: confs('ipv6', l.name),
      peer_ifindex: l.link >= 0 ? l.link : l.index, peer_nsid: id };
  }
}

/** What the restore needs of the dump's namespaces: the root task's network namespace id, when it had its own. */
export function dumpedNetnsId(dir: string, pids: number[]): number | undefined {
  const inv = decodeImage(join(dir, imageFileName('inventory'))).entries[0] as any;
  const own = Number(inv.root_ids?.net_ns_id ?? 0);
  // a zombie has no ids image
  const netOf = (pid: number) => {
    const p = join(dir, imageFileName('ids', pid));
    return existsSync(p) ? Number((decodeImage(p).entries[0] as any)?.net_ns_id ?? own) : undefined;
  };
  const root = netOf(pids[0]) ?? own;
  for (const pid of pids.slice(1)) {
    const n = netOf(pid);
    if (n !== undefined && n !== root) throw new DumpError(`task ${pid} lived in another network namespace (${n}) than the root task ${pids[0]} (${root}): nested network namespaces are not restored`);
  }
  return root !== own ? root : undefined;
}

/**
 * The root task's network namespace for the restore: --join-ns net:PATH|PID (joined as it is, its state not
 * restored, as criu), else a new one filled from the images (criu's prepare_net_namespaces). path: what the
 * root task enters (native/restore/netns.c); release() once the helper is done (the tree holds it then).
 */
export class NetnsRestore {
  private fd = -1;
  readonly path: string;

  constructor(private dir: string, private id: number | undefined, join: string | undefined, private log: Log, private weak = false) {
    if (join !== undefined) {
      this.path = /^\d+$/.test(join) ? `/proc/${join}/ns/net` : join;
      try {
        statSync(this.path);
      } catch (e) {
        throw new DumpError(`--join-ns net:${join}: ${(e as Error).message}`);
      }
      return;
    }
    const fd = native().netnsCreate();
    if (fd < 0) throw new DumpError(`cannot create a network namespace: errno ${-fd}`);
    this.fd = fd;
    this.path = `/proc/${process.pid}/fd/${fd}`;
    try {
      inNetns(this.path, () => this.fill());
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** one sysctl of the images (one without a value was not there at dump); --weak-sysctls: a failure is a warning */
  private sysctl(path: string, e: Sysctl & { type: any }): void {
    const v = e.type === 'CTL_STR' || e.type === 5 ? e.sarg : e.iarg;
    if (v === undefined || v === null) return;
    try {
      writeFileSync(`/proc/sys/${path}`, String(v));
    } catch (err) {
      const msg = `cannot restore sysctl ${path.replace(/\//g, '.')} = ${v}: ${(err as Error).message}`;
      if (!this.weak) throw new DumpError(msg);
      this.log.warn(msg);
    }
  }

  release(): void {
    if (this.fd >= 0) native().close(this.fd);
    this.fd = -1;
  }

  private image(stem: string): Buffer | undefined {
    const p = join(this.dir, imageFileName(stem, this.id!));
    return existsSync(p) ? readFileSync(p) : undefined;
  }

  private decode(stem: string): any[] {
    const p = join(this.dir, imageFileName(stem, this.id!));
    try {
      return decodeImage(p).entries as any[];
    } catch (e) {
      throw new DumpError(`${imageFileName(stem, this.id!)}: ${(e as Error).message}`);
    }
  }

  /** criu's prepare_net_ns_first_stage and second stage, in the new namespace */
  private fill(): void {
    const writeSysctl = (path: string, e: any) => this.sysctl(path, e);
    const writeConfs = (proto: 'ipv4' | 'ipv6', tgt: string, vals: any[] | undefined, defaults?: any[]) => {
      for (const [path, e] of confWrites(proto, tgt, vals, defaults)) this.sysctl(path, e);
    };
    const ns = this.decode('netns')[0];
    if (!ns) throw new DumpError(`${imageFileName('netns', this.id!)}: no entry`);
    if (ns.ext_key) throw new DumpError(`${imageFileName('netns', this.id!)}: an external network namespace (${ns.ext_key}): use --join-ns net:PATH`);
    writeConfs('ipv4', 'all', ns.all_conf4); writeConfs('ipv4', 'default', ns.def_conf4);
    writeConfs('ipv6', 'all', ns.all_conf6); writeConfs('ipv6', 'default', ns.def_conf6);
    if (ns.unix_conf?.[0]) writeSysctl('net/unix/max_dgram_qlen', ns.unix_conf[0]);
    if (ns.ipv4_sysctl?.[0]) writeSysctl('net/ipv4/ping_group_range', ns.ipv4_sysctl[0]);
    for (const nd of this.decode('netdev')) {
      if (nd.type !== 'LOOPBACK' && nd.type !== 1) throw new DumpError(`${imageFileName('netdev', this.id!)}: link ${nd.name} of type ${nd.type} is not restored by ckpt`);
      const r = native().rtnlSetLink(Number(nd.ifindex), Number(nd.flags), Number(nd.mtu));
      if (r < 0) throw new DumpError(`cannot set link ${nd.name} (flags ${nd.flags}, mtu ${nd.mtu}): errno ${-r}`);
      writeConfs('ipv4', nd.name, nd.conf4, ns.def_conf4); writeConfs('ipv6', nd.name, nd.conf6, ns.def_conf6);
    }
    const fail = (m: string) => new DumpError(`restoring the network namespace failed: ${m}`);
    for (const [stem, args] of [['ifaddr', ['addr']], ['route', ['route']], ['route6', ['route']], ['rule', ['rule']]] as const) {
      const data = this.image(stem);
      if (!data?.length) continue;
      if (stem === 'rule') { quiet(['ip', 'rule', 'flush']); quiet(['ip', 'rule', 'delete', 'table', 'local']); }
      tool(['ip', ...args, 'restore'], data, (m) => fail(`${imageFileName(stem, this.id!)}: ${m}`));
    }
    for (const v6 of [false, true]) {
      const stem = v6 ? 'ip6tables' : 'iptables', data = this.image(stem);
      if (!data?.length) continue;
      const bin = legacyIptables(v6, true);
      if (!bin) throw fail(`${imageFileName(stem, this.id!)}: no legacy ${stem}-restore to restore it with`);
      tool(['sh', '-c', `${bin} -w`], data, (m) => fail(`${imageFileName(stem, this.id!)}: ${m}`));
    }
    const nft = this.image('nftables');
    if (nft?.length) tool(['nft', '-f', '-'], nft, (m) => fail(`${imageFileName('nftables', this.id!)}: ${m}`));
    for (const stem of ['netns-ct', 'netns-exp']) {
      const ct = this.image(stem);
      const r = ct?.length ? native().nfctRestore(ct) : 0;
      if (r < 0) throw fail(`${imageFileName(stem, this.id!)}: the conntrack entries: errno ${-r}`);
    }
    this.log.info(`Restored the network namespace ${this.id}`);
  }
}

/** criu's net_conf_op write: a link's values equal to the default are skipped (but mtu); accept_redirects last */
function confWrites(proto: 'ipv4' | 'ipv6', tgt: string, vals: any[] | undefined, defaults?: any[]): [string, any][] {
  const names = proto === 'ipv4' ? DEVCONFS4 : DEVCONFS6;
  const order = names.map((n, i) => i).filter((i) => names[i] !== 'accept_redirects').concat(names.indexOf('accept_redirects'));
  const out: [string, any][] = [];
  for (const i of order) {
    const e = vals?.[i], d = defaults?.[i];
    if (!e) continue;
    if (d && names[i] !== 'mtu' && e.iarg === d.iarg && e.sarg === d.sarg) continue;
    out.push([`net/${proto}/conf/${tgt}/${names[i]}`, e]);
  }
  return out;
}

/**
 * The commands (one a line, for native/restore/netlock.c) that drop the dump's lock of the root task's network
 * namespace once the tree is restored (criu's network_unlock_internal), run in it through nsenter.
 */
export function netnsUnlockCommands(rootPid: number, method: NetLockMethod, runId: string | undefined): string {
  if (method === 'skip') return '';
  const ns = ['nsenter', `--net=/proc/${rootPid}/ns/net`, '--'];
  if (method === 'nftables') return [...ns, 'nft', 'delete', 'table', ...nftTable(runId ?? String(rootPid)).split(' ')].join(' ');
  return ['iptables', 'ip6tables'].flatMap((bin) => [['-D', 'INPUT', '-j', 'CRIU'], ['-D', 'OUTPUT', '-j', 'CRIU'], ['-F', 'CRIU'], ['-X', 'CRIU']]
    .map((a) => [...ns, bin, '-w', ...a].join(' '))).join('\n');
}
