// `crit x DIR mem --pid N`: a task's dumped memory as `hexdump -C` shows it
// (all of it, or --addr/--len), or the places where a string or a regular
// expression occurs (--search/--regex, with --context bytes around).
import type { ChalkInstance } from 'chalk';
import { ImageError, PE, taskPages, type PageReader } from '@ckpt/images';
import { safeText } from '../render/escape.js';
import { HexDumper } from '../render/hexdump.js';
import { hexAddr } from '../render/json.js';
import { ImageDir } from './imagedir.js';
import { collectMems, type Mapping } from './mems.js';
import { searchMemory, type MemMatch, type SearchSpec } from './search.js';

export function openTaskPages(dir: ImageDir, pid: number, pageSize = 4096): PageReader {
  if (!dir.has('pagemap', pid)) {
    const known = dir.pstree().map((p) => p.pid).join(', ');
    throw new ImageError(`no memory images for pid ${pid} (tasks in this dump: ${known})`, { file: dir.path('pagemap', pid) });
  }
  return taskPages(dir.files, pid, { pageSize });
}

/** The whole dumped memory, region by region, as hexdump -C lines (a region's last line is its end address). */
export function* hexdumpAll(pages: PageReader): Generator<string> {
  let dumper: HexDumper | undefined;
  let next = -1n;
  for (const { vaddr, data } of pages.chunks()) {
    if (vaddr !== next) {
      if (dumper) yield dumper.end();
      dumper = new HexDumper(vaddr);
    }
    yield* dumper!.push(data);
    next = vaddr + BigInt(data.length);
  }
  if (dumper) yield dumper.end();
}

/** len bytes at addr as hexdump -C lines; onMissing gets the count of bytes the dump does not hold (shown as zeros). */
export function* hexdumpRange(pages: PageReader, addr: bigint, len: number, onMissing: (n: number) => void): Generator<string> {
  const dumper = new HexDumper(addr);
  let missing = 0;
  const step = 8 << 20;
  for (let done = 0; done < len; done += step) {
    const r = pages.read(addr + BigInt(done), Math.min(step, len - done));
    missing += r.missing;
    yield* dumper.push(r.data);
  }
  yield dumper.end();
  if (missing) onMissing(missing);
}

/** The pagemap of a task for --json without --addr: which ranges the dump holds. */
export function pageRuns(pages: PageReader): Array<{ start: string; end: string; pages: number; flags: string[] }> {
  return pages.runs.map((r) => ({
    start: hexAddr(r.vaddr),
    end: hexAddr(r.vaddr + BigInt(r.nrPages * pages.pageSize)),
    pages: r.nrPages,
    flags: Object.entries(PE).filter(([, bit]) => r.flags & bit).map(([n]) => n.toLowerCase()),
  }));
}

function vmaFinder(dir: ImageDir, pid: number): (addr: bigint) => Mapping | undefined {
  const vmas = collectMems(dir, undefined, pid)[0]?.vmas ?? [];
  return (addr) => {
    let lo = 0;
    let hi = vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addr < vmas[mid].start) hi = mid - 1;
      else if (addr >= vmas[mid].end) lo = mid + 1;
      else return vmas[mid];
    }
    return undefined;
  };
}

export interface FoundMatch extends MemMatch {
  /** the mapping that holds the match, as x mems describes it */
  vma?: string;
}

export function* findInMemory(dir: ImageDir, pid: number, pages: PageReader, spec: SearchSpec): Generator<FoundMatch> {
  const vmaOf = vmaFinder(dir, pid);
  for (const m of searchMemory(pages, spec)) {
    const v = vmaOf(m.addr);
    yield { ...m, vma: v ? `${hexAddr(v.start)}-${hexAddr(v.end)} ${v.prot}${v.what}` : undefined };
  }
}

const printable = (b: Buffer) => b.toString('latin1').replace(/[^\x20-\x7e]/g, '.');

export function matchText(m: FoundMatch, style: ChalkInstance): string {
  const where = m.vma ? style.dim(`  (${safeText(m.vma.trim())})`) : '';
  return `${style.cyan(hexAddr(m.addr))}${where}\n    ${printable(m.before)}${style.bold.red(printable(m.match))}${printable(m.after)}\n`;
}

export function matchJson(m: FoundMatch): object {
  return { addr: hexAddr(m.addr), vma: m.vma ?? null, match: m.match.toString('latin1'), before: m.before.toString('latin1'), after: m.after.toString('latin1') };
}
