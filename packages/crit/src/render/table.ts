// Tables of crit's own reports (x sk, x ps --cmdline/--env). One rule for all:
// on a terminal, a box table (cli-table3) that fits the terminal's width, long
// cells wrapped; into a pipe or a file, plain columns: a header line, then one
// line per row, columns separated by two spaces, no colour, so that grep, awk
// and cut work on it. Cells are written escaped (see escape.ts).
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { safeText } from './escape.js';

/** A list cell is one item per line in a box table, space-separated in plain columns. */
export type Cell = string | number | string[];

export interface Layout {
  /** box table to fit this many columns; undefined: plain columns */
  width?: number;
}

/** The layout for stdout: a table as wide as the terminal, or plain columns in a pipe. */
export function stdoutLayout(stream: { isTTY?: boolean; columns?: number } = process.stdout): Layout {
  return stream.isTTY ? { width: stream.columns || 80 } : {};
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const widthOf = (s: string) => [...s.replace(ANSI, '')].length;
const linesOf = (c: Cell): string[] => (Array.isArray(c) ? c.map(safeText) : String(c).split('\n').map(safeText));

/** The widest of each column, header included (a loop: a dump may have many thousand rows). */
function columnWidths(head: string[], rowWidths: number[][]): number[] {
  const w = head.map(widthOf);
  for (const r of rowWidths) for (let i = 0; i < w.length; i++) if (r[i] > w[i]) w[i] = r[i];
  return w;
}

/** Where a long cell may break, best first: after a space or comma, after a slash, after a colon, equals sign or dash. */
const BREAKS = [/[ ,]/, /\//, /[:=-]/];
const WORD_END = /[ ,/]/;

/** The longest word of `s` (how narrow its column can get without cutting one). */
function longestWord(s: string): number {
  let longest = 0;
  let run = 0;
  for (const c of s) {
    run++;
    if (WORD_END.test(c)) {
      longest = Math.max(longest, run);
      run = 0;
    }
  }
  return Math.max(longest, run);
}

/** A line cut to `width`: at the best break point that keeps at least half a line, else hard. */
export function wrapLine(s: string, width: number): string[] {
  const chars = [...s];
  // a styled cell (dim "-") is short: never cut inside an escape sequence
  if (chars.length <= width || width < 1 || s.replace(ANSI, '') !== s) return [s];
  const out: string[] = [];
  let rest = chars;
  while (rest.length > width) {
    let cut = width;
    search: for (const brk of BREAKS) {
      for (let i = width; i > width / 2; i--) {
        if (brk.test(rest[i - 1])) {
          cut = i;
          break search;
        }
      }
    }
    out.push(rest.slice(0, cut).join('').trimEnd());
    rest = rest.slice(cut);
  }
  if (rest.length) out.push(rest.join(''));
  return out;
}

/**
 * Column widths that fit `width`: the widest columns give way first, down to
 * their `floor` (their longest word, up to 16; numbers keep their width); if
 * that is still too wide, down to 4 (words are then cut).
 */
export function fitWidths(natural: number[], floor: number[], width: number): number[] {
  const w = [...natural];
  // borders: one per column plus one, and one space of padding on each side
  let total = w.reduce((a, b) => a + b + 3, 1);
  for (const limit of [floor, natural.map((n) => Math.min(n, 4))]) {
    while (total > width) {
      let widest = -1;
      for (let i = 0; i < w.length; i++) if (w[i] > limit[i] && (widest < 0 || w[i] > w[widest])) widest = i;
      if (widest < 0) break;
      w[widest]--;
      total--;
    }
  }
  return w; // still too wide only on a terminal too narrow for any table: it wraps the rest
}

export function tableText(style: ChalkInstance, head: string[], rows: Cell[][], align: Array<'left' | 'right'> = [], layout: Layout = stdoutLayout()): string {
  const cells = rows.map((r) => r.map(linesOf));
  const natural = columnWidths(head, cells.map((r) => r.map((lines) => lines.reduce((m, l) => Math.max(m, widthOf(l)), 0))));
  if (layout.width === undefined) return plainText(style, head, cells, align);
  const numeric = head.map((_h, i) => rows.every((r) => typeof r[i] === 'number'));
  const floor = head.map((h, i) => {
    if (numeric[i]) return natural[i];
    let word = widthOf(h);
    for (const r of cells) for (const l of r[i]) word = Math.max(word, longestWord(l.replace(ANSI, '')));
    return Math.min(natural[i], word, 16);
  });
  const widths = fitWidths(natural, floor, layout.width);
  const wrap = (lines: string[], i: number) => lines.flatMap((l) => wrapLine(l, widths[i])).join('\n');
  const t = new Table({
    head: head.map((h, i) => style.bold(wrap([h], i))),
    // no rule between rows
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
    colAligns: align,
    colWidths: widths.map((w) => w + 2),
    wordWrap: false,
  });
  for (const r of cells) t.push(r.map(wrap));
  return t.toString() + '\n';
}

function plainText(style: ChalkInstance, head: string[], cells: string[][][], align: Array<'left' | 'right'>): string {
  // an empty cell would shift the fields of `awk '{print $4}'`
  const one = (lines: string[]) => lines.join(' ') || '-';
  const flat = cells.map((r) => r.map(one));
  const widths = columnWidths(head, flat.map((r) => r.map(widthOf)));
  const line = (r: string[], bold = false) => r.map((c, i) => {
    const pad = ' '.repeat(Math.max(0, widths[i] - widthOf(c)));
    const text = bold ? style.bold(c) : c;
    if (align[i] === 'right') return pad + text;
    return i === r.length - 1 ? text : text + pad;
  }).join('  ') + '\n';
  return line(head, true) + flat.map((r) => line(r)).join('');
}
