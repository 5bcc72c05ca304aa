// `crit x DIR ps --cmdline --env --json`: the process tree with task states
// (correctly named), argv and environment from the dumped memory.
import type { ChalkInstance } from 'chalk';
import { tableText, type Cell } from '../render/table.js';
import { taskStrings } from './cmdline.js';
import { ImageDir, isDead } from './imagedir.js';
import { collectPs, type Task } from './ps.js';

export interface PsDetail extends Omit<Task, 'children'> {
  argv?: string[];
  env?: string[];
  children: PsDetail[];
}

export function collectPsDetail(dir: ImageDir, want: { cmdline?: boolean; env?: boolean; pageSize?: number; pid?: number }): PsDetail[] {
  const add = (t: Task): PsDetail => {
    const d: PsDetail = { ...t, children: t.children.map(add) };
    if ((want.cmdline || want.env) && !isDead(dir, t.pid)) {
      const s = taskStrings(dir, t.pid, want.pageSize);
      if (want.cmdline) d.argv = s.argv;
      if (want.env) d.env = s.env;
    }
    return d;
  };
  return collectPs(dir, want.pid).map(add);
}

export function psDetailText(roots: PsDetail[], style: ChalkInstance, want: { cmdline?: boolean; env?: boolean }): string {
  const head = ['PID', 'PPID', 'PGID', 'SID', 'STATE', 'COMM'];
  if (want.cmdline) head.push('CMDLINE');
  if (want.env) head.push('ENVIRONMENT');
  const rows: Cell[][] = [];
  const walk = (t: PsDetail, depth: number) => {
    const row: Cell[] = [t.pid, t.ppid, t.pgid, t.sid, t.state, '  '.repeat(depth) + t.comm];
    if (want.cmdline) row.push(t.argv ? t.argv.map(shellQuote).join(' ') : { dim: '-' });
    // one variable a line in a table; shell-quoted on one line in plain columns
    if (want.env) row.push(t.env ? t.env.map(shellQuote) : { dim: '-' });
    rows.push(row);
    for (const k of t.children) walk(k, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return tableText(style, head, rows, ['right', 'right', 'right', 'right', 'left', 'left']);
}

/** An argument as a shell would need it written. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
