// Tables of crit's reports (cli-table3), headed in bold when colour is on.
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';

export type Cell = string | number;

export function tableText(style: ChalkInstance, head: string[], rows: Cell[][], align?: Array<'left' | 'right'>): string {
  const t = new Table({
    head: head.map((h) => style.bold(h)),
    // no rule between rows
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
    colAligns: align,
    wordWrap: false,
  });
  for (const r of rows) t.push(r.map((c) => (typeof c === 'number' ? String(c) : c)));
  return t.toString() + '\n';
}
