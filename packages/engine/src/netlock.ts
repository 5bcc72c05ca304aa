// The network lock (CRIU 4.2's net.c network_lock/unlock, netfilter.c): while a tree's TCP connections
// are dumped (and, after a dump that kills the tree, until they are restored), no packet of theirs may
// reach the peer or the socket, or the peer would see a RST or lose data. The rules are CRIU's own, with
// its names, so that either tool unlocks what the other locked:
//   iptables (criu's default): per connection, one DROP rule in INPUT (from the peer) and one in OUTPUT
//     (to it), for packets without SOCCR_MARK 0xC114 (ip6tables for IPv6; v4-mapped IPv6 as IPv4);
//   nftables: table "inet CRIU-<run id>" (the dump's id, in inventory.img's dump_criu_run_id) with input and
//     output chains accepting the mark and dropping what is in its sets conns4/conns6, one element per
//     direction of each connection;
//   skip: nothing.
// A tree without its own network namespace (all ckpt dumps) is locked per connection, as criu does.
//
// Dump:    lock() before the freeze; lockConnection(c) before a connection enters repair (tcp-stream.ts);
//          on failure or -R: unlockConnection(c) of each, then unlock(); a dump that kills the tree
//          leaves everything in place for the restore.
// Restore: restoreUnlockCommands(dir) -> the commands the helper runs (CKPT_NET_UNLOCK, native/restore/
//          netlock.c) once every task is restored, before the repaired sockets leave repair mode.
import { spawnSync } from 'node:child_process';
import { decodeImage, imageFileName } from '@ckpt/images';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DumpError, type Log } from './log.js';

export type NetLockMethod = 'iptables' | 'nftables' | 'skip';
/** inventory.img network_lock_method (criu's enum NETWORK_LOCK_METHOD) */
export const LOCK_METHODS: readonly NetLockMethod[] = ['iptables', 'nftables', 'skip'];
export const SOCCR_MARK = '0xC114';
export const AF_INET = 2, AF_INET6 = 10;

/** A TCP connection as the lock sees it: addresses in network order (4 or 16 bytes), ports in host order. */
export interface TcpConn { family: number; src: Buffer; sport: number; dst: Buffer; dport: number }

/** An address of an image (inetsk src_addr/dst_addr: u32 words holding network-order bytes) as bytes. */
export function addrFromWords(words: readonly (number | bigint)[]): Buffer {
  const b = Buffer.alloc(4 * words.length);
  words.forEach((w, i) => b.writeUInt32LE(Number(w) >>> 0, 4 * i));
  return b;
}

/** The text form of an address (IPv6 compressed as inet_ntop writes it). */
export function addrText(family: number, a: Buffer): string {
  if (family === AF_INET) return [...a.subarray(0, 4)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => a.readUInt16BE(2 * i).toString(16));
  // the longest run of two or more zero groups becomes ::
  let best = -1, len = 0;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > len && j - i > 1) { best = i; len = j - i; }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`;
}

const MAPPED = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** IPv4-mapped IPv6 connections are locked as IPv4 ones (criu's ipv6_addr_mapped) */
function lockFamily(c: TcpConn): { family: number; src: Buffer; dst: Buffer } {
  if (c.family === AF_INET6 && c.dst.subarray(0, 12).equals(MAPPED)) return { family: AF_INET, src: c.src.subarray(12, 16), dst: c.dst.subarray(12, 16) };
  return { family: c.family, src: c.src, dst: c.dst };
}

/** criu's IPTABLES_CONN_CMD, for both directions: [INPUT rule, OUTPUT rule] as argv (op: -I or -D) */
function iptablesRules(c: TcpConn, op: '-I' | '-D'): string[][] {
  const f = lockFamily(c);
  const bin = f.family === AF_INET ? 'iptables' : 'ip6tables';
  const us = addrText(f.family, f.src), peer = addrText(f.family, f.dst);
  const rule = (chain: string, sip: string, sport: number, dip: string, dport: number) => [bin, '-w', '-t', 'filter', op, chain, '--protocol', 'tcp',
    '-m', 'mark', '!', '--mark', SOCCR_MARK, '--source', sip, '--sport', String(sport), '--destination', dip, '--dport', String(dport), '-j', 'DROP'];
  return [rule('INPUT', peer, c.dport, us, c.sport), rule('OUTPUT', us, c.sport, peer, c.dport)];
}

export const nftTable = (runId: string) => `inet CRIU-${runId}`;

/** criu's nftables_init_connection_lock, as one nft transaction */
function nftLockScript(table: string): string {
  const lines = [`create table ${table}`];
  for (const chain of ['output', 'input']) {
    lines.push(`add chain ${table} ${chain} { type filter hook ${chain} priority 0; }`, `add rule ${table} ${chain} meta mark ${SOCCR_MARK} accept`);
  }
  for (const [v, ip, type] of [['4', 'ip', 'ipv4_addr'], ['6', 'ip6', 'ipv6_addr']]) {
    lines.push(`add set ${table} conns${v} { type ${type} . inet_service . ${type} . inet_service; }`);
    for (const chain of ['output', 'input']) lines.push(`add rule ${table} ${chain} ${ip} saddr . tcp sport . ${ip} daddr . tcp dport @conns${v} drop`);
  }
  return `${lines.join('\n')}\n`;
}

/** criu's NFTABLES_CONN_CMD for both directions: packets from the peer, then to it */
function nftElements(table: string, c: TcpConn): string {
  const f = lockFamily(c);
  const us = addrText(f.family, f.src), peer = addrText(f.family, f.dst);
  const set = `conns${f.family === AF_INET ? 4 : 6}`;
  return `add element ${table} ${set} { ${peer} . ${c.dport} . ${us} . ${c.sport} }\nadd element ${table} ${set} { ${us} . ${c.sport} . ${peer} . ${c.dport} }\n`;
}

export class NetLock {
  private locked: TcpConn[] = [];
  private tableMade = false;
  /** told, before each part of the lock is taken, the command (argv) that undoes it (src/dump-guard.ts) */
  onLock?: (undo: string[]) => void;

  /**
   * runId: this dump's id (inventory dump_criu_run_id; names the nftables table). netns: a network
   * namespace file (/proc/PID/ns/net) whose rules to change, when it is not ours.
   */
  constructor(readonly method: NetLockMethod, readonly runId: string, private log: Log, private netns?: string) {}

  /** before the freeze: the nftables table and its sets (nothing else: connections are locked one by one) */
  lock(): void {
    if (this.method !== 'nftables') return;
    this.log.info(`Lock network (nftables table ${nftTable(this.runId)})`);
    this.onLock?.(this.argv(['nft', 'delete', 'table', ...nftTable(this.runId).split(' ')]));
    this.run(['nft', '-f', '-'], nftLockScript(nftTable(this.runId)), 'Locking network failed using nftables');
    this.tableMade = true;
  }

  /** before c enters repair mode; throws DumpError naming it */
  lockConnection(c: TcpConn, what: string): void {
    if (this.method === 'skip') return;
    const name = `${what} (${connText(c)})`;
    if (this.method === 'nftables') {
      this.run(['nft', '-f', '-'], nftElements(nftTable(this.runId), c), `cannot lock TCP connection ${name} with nftables`);
    } else {
      for (const undo of iptablesRules(c, '-D')) this.onLock?.(this.argv(undo));
      const [input, output] = iptablesRules(c, '-I');
      this.run(input, undefined, `cannot lock TCP connection ${name} with iptables`);
      try {
        this.run(output, undefined, `cannot lock TCP connection ${name} with iptables`);
      } catch (e) {
        this.runQuiet(iptablesRules(c, '-D')[0]);
        throw e;
      }
    }
    this.locked.push(c);
    this.log.debug(`Locked ${connText(c)} connection`);
  }

  /** a failed dump or -R: c's rules deleted (nftables: all go with the table, in unlock()) */
  unlockConnection(c: TcpConn): void {
    const i = this.locked.indexOf(c);
    if (i < 0) return;
    this.locked.splice(i, 1);
    if (this.method !== 'iptables') return;
    for (const r of iptablesRules(c, '-D')) if (!this.runQuiet(r)) this.log.error(`Failed to unlock TCP connection ${connText(c)}`);
  }

  /** a failed dump or -R, after every connection's unlockConnection: the nftables table deleted */
  unlock(): void {
    for (const c of [...this.locked]) this.unlockConnection(c);
    if (!this.tableMade) return;
    this.log.info('Unlock network');
    if (!this.runQuiet(['nft', 'delete', 'table', ...nftTable(this.runId).split(' ')])) this.log.error(`cannot delete nftables table ${nftTable(this.runId)}`);
    this.tableMade = false;
  }

  private argv(cmd: string[]): string[] {
    return this.netns ? ['nsenter', `--net=${this.netns}`, '--', ...cmd] : cmd;
  }

  private run(cmd: string[], input: string | undefined, what: string): void {
    const [bin, ...args] = this.argv(cmd);
    this.log.debug(`running ${[bin, ...args].join(' ')}${input ? `: ${input.trim().replace(/\n/g, '; ')}` : ''}`);
    const r = spawnSync(bin, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.status}`;
      throw new DumpError(`${what}: ${cmd[0]}: ${why}`);
    }
  }

  private runQuiet(cmd: string[]): boolean {
    const [bin, ...args] = this.argv(cmd);
    const r = spawnSync(bin, args, { stdio: 'ignore' });
    return !r.error && r.status === 0;
  }
}

export function connText(c: TcpConn): string {
  const f = lockFamily(c);
  const a = (b: Buffer, p: number) => (f.family === AF_INET6 ? `[${addrText(f.family, b)}]:${p}` : `${addrText(f.family, b)}:${p}`);
  return `${a(f.src, c.sport)} - ${a(f.dst, c.dport)}`;
}

/**
 * What undoes the dump's lock at the end of a restore from DIR (criu's network_unlock on restore): the
 * method is the dump's (inventory.img; images without it: iptables, as criu), --network-lock is not asked.
 * iptables: each TCP connection of files.img (and a legacy inetsk.img) loses its two rules (none with tcp_close); nftables: the table
 * of the dump's run id goes (criu's older images: CRIU-<root pid>). One command a line, words separated by
 * spaces, for the helper (CKPT_NET_UNLOCK).
 */
export function restoreUnlockCommands(dir: string, rootPid: number): string {
  const inv = decodeImage(join(dir, imageFileName('inventory'))).entries[0] as any;
  const method = LOCK_METHODS[inv.network_lock_method === undefined ? 0 : Number(inv.network_lock_method)] ?? 'iptables';
  if (method === 'skip') return '';
  if (method === 'nftables') return `nft delete table ${nftTable(inv.dump_criu_run_id ?? String(rootPid))}`;
  if (inv.tcp_close) return '';
  // inet sockets are files.img entries (criu 4.2), or inetsk.img entries (older images): criu reads both
  const socks: any[] = [];
  const isk = { family: true, proto: true, src_addr: true, src_port: true, dst_addr: true, dst_port: true } as const;
  for (const [stem, fields, pick] of [['files', { type: true, isk }, (e: any) => (e.type === 'INETSK' ? e.isk : undefined)], ['inetsk', isk, (e: any) => e]] as const) {
    const p = join(dir, imageFileName(stem));
    if (existsSync(p)) for (const e of decodeImage(p, { fields }).entries as any[]) if (pick(e)) socks.push(pick(e));
  }
  const lines: string[] = [];
  for (const e of socks) {
    if (Number(e.proto) !== 6 || !Number(e.dst_port)) continue;
    const c = { family: Number(e.family), src: addrFromWords(e.src_addr ?? []), sport: Number(e.src_port), dst: addrFromWords(e.dst_addr ?? []), dport: Number(e.dst_port) };
    for (const r of iptablesRules(c, '-D')) lines.push(r.join(' '));
  }
  return lines.join('\n');
}
