// crit diff's readable report: changes grouped under their path, one header
// line per path step (with a label: task comm, fd target, mapping), then
// "~ field: old → new", "+ field: value" or "- field: value".
import type { ChalkInstance } from 'chalk';
import { safeJson, safeText } from '../render/escape.js';
import type { Change, DiffResult } from './model.js';

/** tasks[1].fds[3].pos -> ["tasks[1]", "fds[3]", "pos"] (brackets stay with their name). */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (quoted) {
      cur += c;
      if (c === '\\') cur += path[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    if (c === '[') {
      if (depth === 0 && cur && cur.endsWith(']')) {
        out.push(cur);
        cur = '';
      }
      depth++;
    }
    if (c === ']') depth--;
    if (c === '.' && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return '';
  const s = safeJson(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? (x <= Number.MAX_SAFE_INTEGER && x >= -Number.MAX_SAFE_INTEGER ? Number(x) : `${x}`) : x)));
  return s.length > 160 ? s.slice(0, 157) + '...' : s;
}

function pagesLine(c: Change, style: ChalkInstance): string {
  const p = c.pages!;
  const parts: string[] = [];
  if (p.changed) parts.push(`${p.changed} page${p.changed === 1 ? '' : 's'} changed`);
  if (p.added) parts.push(`${p.added} only in B`);
  if (p.removed) parts.push(`${p.removed} only in A`);
  const ranges = p.ranges.slice(0, 8).map((r) => (r.pages === 1 ? r.start : `${r.start}-${r.end}`) + (r.kind === 'changed' ? '' : r.kind === 'added' ? ' (+)' : ' (-)'));
  const more = p.ranges.length - ranges.length + p.moreRanges;
  return `${style.yellow('~')} ${parts.join(', ')}: ${style.dim(ranges.join(', ') + (more > 0 ? `, and ${more} more` : ''))}`;
}

function leafLine(c: Change, leaf: string, style: ChalkInstance): string {
  if (c.pages) return pagesLine(c, style);
  if (c.op === 'added') return `${style.green('+')} ${style.green(leaf)}: ${show(c.b)}`;
  if (c.op === 'removed') return `${style.red('-')} ${style.red(leaf)}: ${show(c.a)}`;
  return `${style.yellow('~')} ${leaf}: ${style.red(show(c.a))} → ${style.green(show(c.b))}`;
}

export function* diffText(r: DiffResult, style: ChalkInstance): Generator<string> {
  yield style.bold(`--- ${safeText(r.a)}\n+++ ${safeText(r.b)}\n`);
  if (r.equal) {
    yield `no differences${r.kind === 'dirs' ? ' (in the sections compared)' : ''}\n`;
    return;
  }
  let prev: string[] = [];
  for (const c of r.changes) {
    const steps = splitPath(c.path);
    // a page change is reported on its mapping's own line; other leaves are the last step
    const heads = c.pages ? steps : steps.slice(0, -1);
    let common = 0;
    while (common < heads.length && common < prev.length && heads[common] === prev[common]) common++;
    let out = '';
    for (let i = common; i < heads.length; i++) {
      const prefix = steps.slice(0, i + 1).join('.');
      const label = r.labels[prefix];
      out += '  '.repeat(i) + style.bold(safeText(heads[i])) + (label ? '  ' + style.cyan(safeText(label)) : '') + '\n';
    }
    out += '  '.repeat(heads.length) + leafLine(c, safeText(steps[steps.length - 1] ?? '$'), style) + '\n';
    prev = heads;
    yield out;
  }
  const by = Object.entries(r.summary.bySection).map(([s, n]) => `${s} ${n}`).join(', ');
  yield `\n${r.summary.total} difference${r.summary.total === 1 ? '' : 's'} (${by})\n`;
}
