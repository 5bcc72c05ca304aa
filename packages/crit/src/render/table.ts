// Tables of crit's own reports (x sk, x ps --cmdline/--env). One rule for all:
// on a terminal, a table that fits the terminal's width (see tableText); into
// a pipe or a file, plain columns: a header line, then one line per row,
// columns separated by two spaces, no colour, so that grep, awk and cut work
// on it. Cell text is written escaped (see escape.ts).
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { safeText } from './escape.js';

/**
 * A cell: text (from an image: it is escaped here), a number, a list (one item
 * a line on a terminal, space-separated in plain columns), or a placeholder
 * shown dim ("(none)", "-").
 */
export type Cell = string | number | string[] | { dim: string };

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

/** The widest of each column, header included (a loop: a dump may have many thousand rows). */
function columnWidths(head: string[], rowWidths: number[][]): number[] {
  const w = head.map(widthOf);
  for (const r of rowWidths) for (let i = 0; i < w.length; i++) if (r[i] > w[i]) w[i] = r[i];
  return w;
}

/** Where a long cell may break, best first: after a space or comma, after a slash, after a colon, equals sign or dash. */
const BREAKS = [/[ ,]/, /\//, /[:=-]/];
const WORD_END = /[ ,/:]/;

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
 * Column widths that fit `width` with `overhead` columns of borders and
 * padding: the widest columns give way first, down to their `floor`.
 * Undefined when even the floors are too wide.
 */
export function fitWidths(natural: number[], floor: number[], width: number, overhead = 3 * natural.length + 1): number[] | undefined {
  const w = [...natural];
  let total = w.reduce((a, b) => a + b, overhead);
  while (total > width) {
    let widest = -1;
    for (let i = 0; i < w.length; i++) if (w[i] > floor[i] && (widest < 0 || w[i] > w[widest])) widest = i;
    if (widest < 0) return undefined;
    w[widest]--;
    total--;
  }
  return w;
}

/**
 * On a terminal, the first that fits: a box table (cells wrapped as needed);
 * columns without borders (two spaces apart, cells wrapped); one record after
 * the other, a field a line. A column is never narrower than its header or
 * its longest word (up to 12 characters); numbers are never cut.
 */
export function tableText(style: ChalkInstance, head: string[], rows: Cell[][], align: Array<'left' | 'right'> = [], layout: Layout = stdoutLayout()): string {
  const linesOf = (c: Cell): string[] =>
    Array.isArray(c) ? c.map(safeText) : typeof c === 'object' ? [style.dim(safeText(c.dim))] : [safeText(String(c))];
  const cells = rows.map((r) => r.map(linesOf));
  const natural = columnWidths(head, cells.map((r) => r.map((lines) => lines.reduce((m, l) => Math.max(m, widthOf(l)), 0))));
  if (layout.width === undefined) {
    // a list cell on one line; an empty cell would shift the fields of `awk '{print $4}'`
    const flat = cells.map((r) => r.map((lines) => [lines.join(' ') || '-']));
    return columnsText(style, head, flat, columnWidths(head, flat.map((r) => r.map((c) => widthOf(c[0])))), align);
  }
  const numeric = head.map((_h, i) => rows.every((r) => typeof r[i] === 'number'));
  const floor = head.map((h, i) => {
    if (numeric[i]) return natural[i];
    let word = 0;
    for (const r of cells) for (const l of r[i]) word = Math.max(word, longestWord(l.replace(ANSI, '')));
    return Math.max(widthOf(h), Math.min(natural[i], word, 12));
  });
  const boxed = fitWidths(natural, floor, layout.width);
  if (boxed) return boxText(style, head, cells, boxed, align);
  const bare = fitWidths(natural, floor, layout.width, 2 * (head.length - 1));
  if (bare) return columnsText(style, head, cells, bare, align);
  return recordsText(style, head, cells, layout.width);
}

const wrapCell = (lines: string[], width: number) => lines.flatMap((l) => wrapLine(l, width));

function boxText(style: ChalkInstance, head: string[], cells: string[][][], widths: number[], align: Array<'left' | 'right'>): string {
  const t = new Table({
    head: head.map((h) => style.bold(h)),
    // no rule between rows
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
    colAligns: align,
    colWidths: widths.map((w) => w + 2),
    wordWrap: false,
  });
  for (const r of cells) t.push(r.map((lines, i) => wrapCell(lines, widths[i]).join('\n')));
  return t.toString() + '\n';
}

/** Columns two spaces apart, a row as many lines as its tallest cell; no trailing spaces. */
function columnsText(style: ChalkInstance, head: string[], cells: string[][][], widths: number[], align: Array<'left' | 'right'>): string {
  const row = (r: string[][], bold = false): string => {
    const wrapped = r.map((lines, i) => wrapCell(lines, widths[i]));
    const height = wrapped.reduce((m, c) => Math.max(m, c.length), 1);
    let out = '';
    for (let k = 0; k < height; k++) {
      const parts = wrapped.map((c, i) => {
        const text = c[k] ?? '';
        const pad = ' '.repeat(Math.max(0, widths[i] - widthOf(text)));
        const shown = bold ? style.bold(text) : text;
        return align[i] === 'right' ? pad + shown : shown + pad;
      });
      out += parts.join('  ').trimEnd() + '\n';
    }
    return out;
  };
  return row(head.map((h) => [h]), true) + cells.map((r) => row(r)).join('');
}

function recordsText(style: ChalkInstance, head: string[], cells: string[][][], width: number): string {
  const label = head.reduce((m, h) => Math.max(m, widthOf(h)), 0) + 2;
  const indent = ' '.repeat(label);
  return cells.map((r) => r.map((lines, i) => {
    const wrapped = wrapCell(lines, Math.max(8, width - label));
    return style.bold(head[i]) + ' '.repeat(label - widthOf(head[i])) + (wrapped.join('\n' + indent) || '-') + '\n';
  }).join('')).join('\n');
}
