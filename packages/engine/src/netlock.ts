// The network lock (CRIU 4.2's net.c network_lock/unlock, netfilter.c): while a tree's TCP connections
// are dumped (and, after a dump that kills the tree, until they are restored), no packet of theirs may
// reach the peer or the socket, or the peer would see a RST or lose data. The rules are CRIU's own, with
// its names, so that either tool unlocks what the other locked:
//   iptables (criu's default): per connection, one DROP rule in INPUT (from the peer) and one in OUTPUT
//     (to it), for packets without SOCCR_MARK 0xC114 (ip6tables for IPv6; v4-mapped IPv6 as IPv4);
//   nftables: table "inet CRIU-<run id>" cut to 31 characters as criu cuts it (the dump's id, in inventory.img's
//     dump_criu_run_id) with input and output chains accepting the mark and dropping what is in its sets
//     conns4/conns6, one element per direction of each connection;
//   skip: nothing.
// A tree without its own network namespace is locked per connection, as criu does (one with its own is locked
// whole: netns.ts); the rules of many connections go in one batch a tool (iptables-restore --noflush a family,
// one nft -f), not criu's one iptables process a rule: with 1,000 connections, each `iptables -D` lists 2,000
// rules.
//
// Dump:    lock() before the freeze; lockConnections(all) after it (dump.ts: what the inet kind finds in the
//          tree's fds); lockConnection(c) before a connection enters repair (tcp-stream.ts: claims it, or locks
//          one it was not given); unlockUnclaimed() once the files are dumped; on failure or -R:
//          unlockConnections(all), then unlock(); a dump that kills the tree leaves everything in place for the
//          restore.
// Restore: restoreUnlockCommands(dir) -> the commands the helper runs (CKPT_NET_UNLOCK_FILE, native/restore/
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

/** criu's IPTABLES_CONN_CMD for both directions, as the words after `-t filter`: [INPUT rule, OUTPUT rule] (op: -I or -D) */
function iptablesSpecs(c: TcpConn, op: '-I' | '-D'): { bin: string; rules: string[][] } {
  const f = lockFamily(c);
  const us = addrText(f.family, f.src), peer = addrText(f.family, f.dst);
  const rule = (chain: string, sip: string, sport: number, dip: string, dport: number) => [op, chain, '--protocol', 'tcp',
    '-m', 'mark', '!', '--mark', SOCCR_MARK, '--source', sip, '--sport', String(sport), '--destination', dip, '--dport', String(dport), '-j', 'DROP'];
  return { bin: f.family === AF_INET ? 'iptables' : 'ip6tables', rules: [rule('INPUT', peer, c.dport, us, c.sport), rule('OUTPUT', us, c.sport, peer, c.dport)] };
}

/** criu's rules as it runs them, one iptables process a rule (argv) */
function iptablesRules(c: TcpConn, op: '-I' | '-D'): string[][] {
  const { bin, rules } = iptablesSpecs(c, op);
  return rules.map((r) => [bin, '-w', '-t', 'filter', ...r]);
}

/**
 * The same rules as batches, one a family: [argv, input] of `iptables-restore -w --noflush` (ip6tables-restore),
 * one transaction of the filter table; rows[i] names the connection of input line i + 1 (for its errors).
 */
function iptablesBatches<T>(items: readonly { c: TcpConn; tag: T }[], op: '-I' | '-D'): { argv: string[]; input: string; rows: (T | undefined)[] }[] {
  const by = new Map<string, { lines: string[]; rows: (T | undefined)[] }>();
  // -I puts each rule at the head of its chain and -D compares the chain from its head: deleting the last locked
  // first finds each rule at the head (2,000 deletions in locking order take seconds, in reverse some ms)
  for (const { c, tag } of op === '-D' ? [...items].reverse() : items) {
    const { bin, rules } = iptablesSpecs(c, op);
    let b = by.get(bin);
    if (!b) by.set(bin, b = { lines: ['*filter'], rows: [undefined] });
    for (const r of rules) { b.lines.push(r.join(' ')); b.rows.push(tag); }
  }
  return [...by].map(([bin, b]) => ({ argv: [`${bin}-restore`, '-w', '--noflush'], input: `${[...b.lines, 'COMMIT'].join('\n')}\n`, rows: [...b.rows, undefined] }));
}

/** criu's nftables_get_table: "inet CRIU-<run id>" in a char[32], so cut to 31 characters (21 of a run id's 36) */
export const nftTable = (runId: string) => `inet CRIU-${runId}`.slice(0, 31);

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
  /** the locked connections, by connText; claimed: the dump repaired it (lockConnection), so its images name it */
  private locked = new Map<string, { c: TcpConn; claimed: boolean }>();
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

  /**
   * Connections locked at once (criu's rules, criu's two iptables processes a connection as one iptables-restore
   * transaction a family, or one nft batch): the dump locks every connection it will repair this way after the
   * freeze. All or none of a family; a refusal throws DumpError naming the connection (what) the tool refused.
   */
  lockConnections(conns: readonly { conn: TcpConn; what: string }[]): void {
    if (this.method === 'skip') return;
    const todo = new Map<string, { conn: TcpConn; what: string }>();
    for (const x of conns) if (!this.locked.has(connText(x.conn))) todo.set(connText(x.conn), x);
    if (!todo.size) return;
    const items = [...todo.values()];
    const name = (x?: { conn: TcpConn; what: string }) => (x ? `TCP connection ${x.what} (${connText(x.conn)})` : `${items.length} TCP connection(s)`);
    if (this.method === 'nftables') {
      // two lines a connection (nftElements)
      this.run(['nft', '-f', '-'], items.map((x) => nftElements(nftTable(this.runId), x.conn)).join(''), (line) => `cannot lock ${name(line ? items[(line - 1) >> 1] : undefined)} with nftables`);
      for (const x of items) this.locked.set(connText(x.conn), { c: x.conn, claimed: false });
    } else {
      for (const b of iptablesBatches(items.map((x) => ({ c: x.conn, tag: x })), '-I')) {
        // the guard learns each rule's undo before the batch takes it
        for (const x of new Set(b.rows)) if (x) for (const undo of iptablesRules(x.conn, '-D')) this.onLock?.(this.argv(undo));
        this.run(b.argv, b.input, (line) => `cannot lock ${name(line ? b.rows[line - 1] : undefined)} with iptables`);
        for (const x of b.rows) if (x) this.locked.set(connText(x.conn), { c: x.conn, claimed: false });
      }
    }
    this.log.debug(`Locked ${items.length} connection(s): ${items.map((x) => connText(x.conn)).join(', ')}`);
  }

  /** before c enters repair mode (locked already by lockConnections, or now); throws DumpError naming it */
  lockConnection(c: TcpConn, what: string): void {
    if (this.method === 'skip') return;
    this.lockConnections([{ conn: c, what }]);
    this.locked.get(connText(c))!.claimed = true;
  }

  /**
   * a failed dump or -R: the rules of those of conns that are locked deleted, one transaction a family (nftables:
   * all go with the table, in unlock()). A batch the tool refuses (a rule someone deleted) is done rule by rule,
   * so that every other rule goes.
   */
  unlockConnections(conns: readonly TcpConn[]): void {
    const gone: TcpConn[] = [];
    for (const c of conns) {
      const l = this.locked.get(connText(c));
      if (l && this.locked.delete(connText(c))) gone.push(l.c);
    }
    if (this.method !== 'iptables' || !gone.length) return;
    for (const b of iptablesBatches(gone.map((c) => ({ c, tag: c })), '-D')) {
      if (this.runQuiet(b.argv, b.input)) continue;
      for (const c of new Set(b.rows)) {
        if (!c) continue;
        for (const r of iptablesRules(c, '-D')) if (!this.runQuiet(r)) this.log.error(`Failed to unlock TCP connection ${connText(c)}`);
      }
    }
  }

  unlockConnection(c: TcpConn): void {
    this.unlockConnections([c]);
  }

  /** after the files are dumped: connections lockConnections locked that the dump did not repair unlocked (the restore would not) */
  unlockUnclaimed(): void {
    this.unlockConnections([...this.locked.values()].filter((l) => !l.claimed).map((l) => l.c));
  }

  /** a failed dump or -R: every connection unlocked, then the nftables table deleted */
  unlock(): void {
    this.unlockConnections([...this.locked.values()].map((l) => l.c));
    if (!this.tableMade) return;
    this.log.info('Unlock network');
    if (!this.runQuiet(['nft', 'delete', 'table', ...nftTable(this.runId).split(' ')])) this.log.error(`cannot delete nftables table ${nftTable(this.runId)}`);
    this.tableMade = false;
  }

  private argv(cmd: string[]): string[] {
    return this.netns ? ['nsenter', `--net=${this.netns}`, '--', ...cmd] : cmd;
  }

  /** cmd with input on its stdin; failing: DumpError of what(the input line the tool names, if it does) */
  private run(cmd: string[], input: string | undefined, what: string | ((line?: number) => string)): void {
    const [bin, ...args] = this.argv(cmd);
    this.log.debug(`running ${[bin, ...args].join(' ')}${input ? `: ${input.trim().replace(/\n/g, '; ')}` : ''}`);
    const r = spawnSync(bin, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    if (r.error || r.status !== 0) {
      const out = r.error ? '' : (r.stderr || r.stdout);
      const why = r.error ? r.error.message : out.trim().split('\n')[0] || `exit ${r.status}`;
      // iptables-restore: "Error occurred at line: N", "line N failed"; nft: "/dev/stdin:N:..."
      const line = Number(/(?:\bline:? |^\/dev\/stdin:)(\d+)/m.exec(out)?.[1]) || undefined;
      throw new DumpError(`${typeof what === 'string' ? what : what(line)}: ${cmd[0]}: ${why}`);
    }
  }

  private runQuiet(cmd: string[], input?: string): boolean {
    const [bin, ...args] = this.argv(cmd);
    const r = spawnSync(bin, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore'] });
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
 * iptables: each TCP connection of files.img (and a legacy inetsk.img) loses its two rules (none with tcp_close),
 * one iptables-restore a family; nftables: the table of the dump's run id goes (criu's older images:
 * CRIU-<root pid>). For the helper (native/restore/netlock.c): one command a line, words separated by spaces;
 * the lines after it that start with a tab are its standard input; lines starting with "? " are commands run
 * only if the last command without it failed (a batch is all or nothing: a rule someone deleted would leave
 * every other; then each rule goes by itself, as criu deletes them).
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
  const conns: TcpConn[] = [];
  for (const e of socks) {
    if (Number(e.proto) !== 6 || !Number(e.dst_port)) continue;
    conns.push({ family: Number(e.family), src: addrFromWords(e.src_addr ?? []), sport: Number(e.src_port), dst: addrFromWords(e.dst_addr ?? []), dport: Number(e.dst_port) });
  }
  const lines: string[] = [];
  for (const b of iptablesBatches(conns.map((c) => ({ c, tag: c })), '-D')) {
    lines.push(b.argv.join(' '), ...b.input.trimEnd().split('\n').map((l) => `\t${l}`));
    for (const c of new Set(b.rows)) if (c) for (const r of iptablesRules(c, '-D')) lines.push(`? ${r.join(' ')}`);
  }
  return lines.join('\n');
}
