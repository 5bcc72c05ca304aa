// Streaming search over a task's dumped memory: the pages are read in large
// pieces, each joined to the tail of the previous piece when they are
// contiguous, so a match across a piece boundary is found once and memory stays
// bounded whatever the dump size. No per-page lookups.
import type { PageReader } from '@ckpt/images';

export interface MemMatch {
  addr: bigint;
  match: Buffer;
  before: Buffer;
  after: Buffer;
}

export interface SearchSpec {
  /** a literal (searched as UTF-8 bytes) or a regular expression over bytes (as latin1 text) */
  literal?: string;
  regex?: string;
  /** bytes of context on each side */
  context?: number;
  /** piece size in bytes */
  chunkBytes?: number;
}

function finder(spec: SearchSpec): { find: (buf: Buffer, from: number) => { at: number; len: number } | undefined; longest: number } {
  if (spec.literal !== undefined) {
    const needle = Buffer.from(spec.literal, 'utf8');
    if (needle.length === 0) throw new Error('the search string is empty');
    return {
      find: (buf, from) => {
        const at = buf.indexOf(needle, from);
        return at < 0 ? undefined : { at, len: needle.length };
      },
      longest: needle.length,
    };
  }
  const re = new RegExp(spec.regex!, 'gs');
  let text = '';
  let textOf: Buffer | undefined;
  return {
    find: (buf, from) => {
      if (textOf !== buf) {
        text = buf.toString('latin1');
        textOf = buf;
      }
      re.lastIndex = from;
      const m = re.exec(text);
      if (!m) return undefined;
      return { at: m.index, len: Math.max(m[0].length, 0) };
    },
    longest: 4096,
  };
}

export function* searchMemory(pages: PageReader, spec: SearchSpec): Generator<MemMatch> {
  const context = spec.context ?? 0;
  const { find, longest } = finder(spec);
  const keep = longest + 2 * context; // tail carried into the next piece
  let tail = Buffer.alloc(0);
  let tailAddr = 0n;
  let lastReported = -1n;
  for (const { vaddr, data, nextContiguous } of piecesWithNext(pages.chunks(spec.chunkBytes ?? 8 << 20))) {
    const joined = tail.length && tailAddr + BigInt(tail.length) === vaddr;
    const buf = joined ? Buffer.concat([tail, data]) : data;
    const base = joined ? tailAddr : vaddr;
    for (let from = 0; from <= buf.length; ) {
      const m = find(buf, from);
      if (!m) break;
      const end = m.at + m.len;
      // near the end of a piece that goes on: leave it to the next piece, which sees it whole
      if (nextContiguous && end + context >= buf.length && m.at >= buf.length - keep + context) break;
      const addr = base + BigInt(m.at);
      if (addr > lastReported) {
        lastReported = addr;
        yield {
          addr,
          match: Buffer.from(buf.subarray(m.at, end)),
          before: Buffer.from(buf.subarray(Math.max(0, m.at - context), m.at)),
          after: Buffer.from(buf.subarray(end, Math.min(buf.length, end + context))),
        };
      }
      from = m.len > 0 ? end : m.at + 1;
    }
    const start = Math.max(0, buf.length - keep);
    tail = Buffer.from(buf.subarray(start));
    tailAddr = base + BigInt(start);
  }
}

/** Pieces with a flag telling whether the next one continues at the address where this one ends. */
function* piecesWithNext(it: Iterable<{ vaddr: bigint; data: Buffer }>): Generator<{ vaddr: bigint; data: Buffer; nextContiguous: boolean }> {
  let prev: { vaddr: bigint; data: Buffer } | undefined;
  for (const cur of it) {
    if (prev) yield { ...prev, nextContiguous: prev.vaddr + BigInt(prev.data.length) === cur.vaddr };
    prev = cur;
  }
  if (prev) yield { ...prev, nextContiguous: false };
}
