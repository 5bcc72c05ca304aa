// The `crit x` additions beyond upstream: sk and mem, ps --cmdline/--env, and
// --json for every explorer. Plain `crit x DIR ps|fds|mems|rss` stays upstream's
// text (commands.ts).
import { ImageError } from '@ckpt/images';
import { toStdout } from '../io.js';
import { safeJson } from '../render/escape.js';
import { hexAddr, jsonText } from '../render/json.js';
import { makeStyle } from '../render/style.js';
import { collectFds } from './fds.js';
import { isDead, openImageDir, type ImageDir } from './imagedir.js';
import { findInMemory, hexdumpAll, hexdumpRange, matchJson, matchText, openTaskPages, pageRuns } from './mem.js';
import { collectMems } from './mems.js';
import { collectPsDetail, psDetailText } from './ps-detail.js';
import { collectRss } from './rss.js';
import { collectSockets, socketsText } from './sk.js';
import { findTask, requireShown } from './tasks.js';

export const MORE_EXPLORERS = ['sk', 'mem'] as const;

export interface XOptions {
  dir: string;
  what: string;
  json?: boolean;
  color?: boolean;
  cmdline?: boolean;
  env?: boolean;
  pid?: number;
  addr?: string;
  len?: string;
  search?: string;
  regex?: string;
  context?: number;
  pageSize?: number;
}

/** Whether the request needs more than upstream's text explorers. */
export function needsMore(o: XOptions): boolean {
  return (MORE_EXPLORERS as readonly string[]).includes(o.what) || Boolean(o.json || o.cmdline || o.env);
}

/** A number given on the command line: decimal or 0x hex, as a bigint. */
export function parseNumber(text: string, what: string): bigint {
  const t = text.trim().replace(/_/g, '');
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) throw new ImageError(`${what}: expected a number (decimal or 0x hex), got ${JSON.stringify(text)}`);
  return BigInt(t);
}

function validateRegex(re: string): void {
  try {
    new RegExp(re);
  } catch (e) {
    throw new ImageError(`--regex: ${(e as Error).message}`);
  }
}

export async function exploreMore(o: XOptions): Promise<void> {
  const dir = openImageDir(o.dir);
  const style = makeStyle({ color: o.color });
  switch (o.what) {
    case 'ps': {
      const roots = collectPsDetail(dir, { cmdline: o.cmdline, env: o.env, pageSize: o.pageSize, pid: o.pid });
      return toStdout([o.json ? jsonText(roots) : psDetailText(roots, style, o)]);
    }
    case 'fds':
      return toStdout([jsonText([...requireShown(collectFds(dir, undefined, o.pid), o.pid)])]);
    case 'mems':
      return toStdout([jsonText([...requireShown(collectMems(dir, undefined, o.pid), o.pid)].map((t) => ({
        ...t, vmas: t.vmas.map((v) => ({ start: hexAddr(v.start), end: hexAddr(v.end), prot: v.prot, what: v.what.trim() })),
      })))]);
    case 'rss':
      return toStdout([jsonText([...requireShown(collectRss(dir, o.pageSize, undefined, o.pid), o.pid)].map((t) => ({
        ...t,
        runs: t.runs.map((r) => ({ vaddr: hexAddr(r.vaddr), pages: r.nrPages, vmas: r.vmas.map((v) => ({ ...v, start: hexAddr(v.start) })) })),
      })))]);
    case 'sk': {
      const socks = collectSockets(dir, o.pid);
      return toStdout([o.json ? jsonText(socks) : socketsText(socks, style, o.pid === undefined ? undefined : `held by task ${o.pid}`)]);
    }
    case 'mem':
      return exploreMemory(dir, o, style);
    default:
      throw new ImageError(`unknown explorer ${o.what}`);
  }
}

async function exploreMemory(dir: ImageDir, o: XOptions, style: ReturnType<typeof makeStyle>): Promise<void> {
  // the combinations of options were checked with the command line (options.ts)
  if (o.pid === undefined) throw new ImageError('x mem needs --pid N (see crit x DIR ps)');
  if (o.regex !== undefined) validateRegex(o.regex);
  // as every explorer: a pid not in the dump, a thread, a zombie, each said plainly
  findTask(dir.pstree(), o.pid);
  if (isDead(dir, o.pid)) throw new ImageError(`task ${o.pid}: not alive when dumped: no memory`);
  const pages = openTaskPages(dir, o.pid, o.pageSize);
  try {
    if (o.search !== undefined || o.regex !== undefined) {
      const found = findInMemory(dir, o.pid, pages, { literal: o.search, regex: o.regex, context: o.context ?? 16 });
      if (o.json) {
        // streamed as a JSON array, one match per line
        let n = 0;
        await toStdout((function* () {
          yield '[';
          for (const m of found) yield (n++ ? ',\n  ' : '\n  ') + safeJson(JSON.stringify(matchJson(m)));
          yield n ? '\n]\n' : ']\n';
        })());
      } else {
        let n = 0;
        await toStdout((function* () {
          for (const m of found) {
            n++;
            yield matchText(m, style);
          }
        })());
        process.stderr.write(`crit: ${n} match${n === 1 ? '' : 'es'} in the memory of ${o.pid}\n`);
      }
      return;
    }
    if (o.addr !== undefined) {
      const addr = parseNumber(o.addr, '--addr');
      const len = Number(parseNumber(o.len ?? '256', '--len'));
      const warn = (n: number) => process.stderr.write(`crit: ${n} of ${len} bytes are not in the dump (shown as zeros)\n`);
      if (o.json) {
        const r = pages.read(addr, len);
        return toStdout([jsonText({ pid: o.pid, addr: hexAddr(addr), len, missing: r.missing, data: r.data.toString('hex') })]);
      }
      return toStdout(hexdumpRange(pages, addr, len, warn));
    }
    if (o.json) return toStdout([jsonText({ pid: o.pid, pageSize: pages.pageSize, runs: pageRuns(pages) })]);
    await toStdout(hexdumpAll(pages));
  } finally {
    pages.close();
  }
}

