// crit diff of two dump directories: the process tree, then per task its
// attributes, fds, sockets, mappings and memory contents, then dump statistics.
import { taskPages, type PageReader } from '@ckpt/images';
import type { ImageDir } from '../explore/imagedir.js';
import { IgnoreRules } from './ignore.js';
import { DIR_SECTIONS, result, type Change, type DiffResult, type PageRange, type Section } from './model.js';
import { comparePages, type PageSpan } from './pages.js';
import { snapshot, type DumpSnap, type TaskSnap } from './snapshot.js';
import { diffValues, keyPath } from './values.js';

export interface DiffOptions {
  ignore?: string[];
  only?: string[];
  pageSize?: number;
  /** ranges listed per mapping in the pages section (the rest are counted) */
  maxRanges?: number;
}

class Collector {
  changes: Change[] = [];
  labels: Record<string, string> = {};
  warnings: string[] = [];
  constructor(private rules: IgnoreRules, private sections: Set<Section>) {}

  wants(s: Section): boolean {
    return this.sections.has(s);
  }

  values(section: Section, a: unknown, b: unknown, path: string): void {
    if (!this.wants(section)) return;
    diffValues(a, b, path, (op, p, va, vb) => {
      if (!this.rules.path(p)) this.changes.push({ section, path: p, op, ...(va !== undefined && { a: va }), ...(vb !== undefined && { b: vb }) });
    });
  }

  push(c: Change): void {
    if (this.wants(c.section) && !this.rules.path(c.path)) this.changes.push(c);
  }
}

function openPages(dir: ImageDir, pid: number, pageSize: number): PageReader | undefined {
  return dir.has('pagemap', pid) ? taskPages(dir.files, pid, { pageSize }) : undefined;
}

function pagesChanges(col: Collector, a: TaskSnap, b: TaskSnap, da: DumpSnap, db: DumpSnap, path: string, opts: DiffOptions): void {
  const ps = opts.pageSize ?? 4096;
  const pa = openPages(da.dir, a.pid, ps);
  const pb = openPages(db.dir, b.pid, ps);
  let spans: PageSpan[];
  try {
    const gone = (r: PageReader | undefined, d: DumpSnap) => r && !d.dir.files.has(r.pagesName) && r.presentBytes > 0;
    const missing = gone(pa, da) ? pa : gone(pb, db) ? pb : undefined;
    if (missing) {
      col.warnings.push(`${path}: ${missing.pagesFile} is missing: memory contents not compared`);
      return;
    }
    spans = comparePages(pa, pb, ps);
  } finally {
    pa?.close();
    pb?.close();
  }
  if (!spans.length) return;
  // each span goes to the mapping that holds it (in b, else in a); spans are split at mapping ends
  const maps = [...new Map([...Object.entries(a.vmas), ...Object.entries(b.vmas)].map(([k, v]) => [k, { start: BigInt(k), end: BigInt(v.end), name: b.vmaNames[k] ?? a.vmaNames[k] }])).values()]
    .sort((x, y) => (x.start < y.start ? -1 : 1));
  const groups = new Map<string, { name: string; ranges: PageRange[]; changed: number; added: number; removed: number }>();
  const max = opts.maxRanges ?? 64;
  const note = (key: string, name: string, s: bigint, e: bigint, kind: PageSpan['kind']) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name, ranges: [], changed: 0, added: 0, removed: 0 }));
    const pages = Number((e - s) / BigInt(ps));
    g[kind] += pages;
    g.ranges.push({ start: '0x' + s.toString(16), end: '0x' + e.toString(16), pages, kind });
  };
  let mi = 0;
  for (const sp of spans) {
    let s = sp.start;
    while (s < sp.end) {
      while (mi < maps.length && maps[mi].end <= s) mi++;
      const m = maps[mi];
      if (!m || m.start >= sp.end) {
        note('unmapped', 'memory outside any mapping', s, sp.end, sp.kind);
        break;
      }
      if (m.start > s) {
        note('unmapped', 'memory outside any mapping', s, m.start, sp.kind);
        s = m.start;
      }
      const e = sp.end < m.end ? sp.end : m.end;
      note(`0x${m.start.toString(16)}-0x${m.end.toString(16)}`, m.name, s, e, sp.kind);
      s = e;
    }
  }
  for (const [key, g] of groups) {
    const p = keyPath(`${path}.pages`, key);
    col.labels[p] = g.name;
    col.push({
      section: 'pages', path: p, op: 'changed',
      pages: { mapping: g.name, changed: g.changed, added: g.added, removed: g.removed, ranges: g.ranges.slice(0, max), moreRanges: Math.max(0, g.ranges.length - max) },
    });
  }
}

export function diffDirs(dirA: string, dirB: string, opts: DiffOptions = {}): DiffResult {
  const rules = new IgnoreRules(opts.ignore);
  const only = opts.only?.length ? opts.only : DIR_SECTIONS;
  const sections = new Set(only.filter((s) => !rules.section(s as Section)) as Section[]);
  const col = new Collector(rules, sections);
  const want = { byPlace: rules.pids, attrs: col.wants('task'), fds: col.wants('fds') || col.wants('sockets'), mems: col.wants('mems') || col.wants('pages') };
  const da = snapshot(dirA, want);
  const db = snapshot(dirB, want);
  const key = (t: TaskSnap) => (rules.pids ? t.place : String(t.pid));
  const inB = new Map(db.tasks.map((t) => [key(t), t]));
  const inA = new Set(da.tasks.map(key));
  const taskPath = (t: TaskSnap) => `tasks[${t.pid}]`;

  for (const a of da.tasks) {
    const b = inB.get(key(a));
    if (!b) {
      col.labels[taskPath(a)] = a.comm;
      col.push({ section: 'tree', path: taskPath(a), op: 'removed', a: { pid: a.pid, ...a.tree } });
      continue;
    }
    const path = taskPath(b);
    col.labels[path] = b.comm;
    col.values('tree', a.tree, b.tree, path);
    if (!a.alive || !b.alive) continue;
    col.values('task', a.attrs, b.attrs, path);
    for (const [fd, t] of Object.entries({ ...a.fdTargets, ...b.fdTargets })) col.labels[keyPath(`${path}.fds`, fd)] = t;
    col.values('fds', a.fds, b.fds, `${path}.fds`);
    col.values('sockets', a.sockets, b.sockets, `${path}.sockets`);
    col.values('mems', a.mm, b.mm, `${path}.mm`);
    for (const [k, n] of Object.entries({ ...a.vmaNames, ...b.vmaNames })) col.labels[keyPath(`${path}.vmas`, k)] = n;
    col.values('mems', a.vmas, b.vmas, `${path}.vmas`);
    if (col.wants('pages')) pagesChanges(col, a, b, da, db, path, opts);
  }
  for (const b of db.tasks) {
    if (inA.has(key(b))) continue;
    col.labels[taskPath(b)] = b.comm;
    col.push({ section: 'tree', path: taskPath(b), op: 'added', b: { pid: b.pid, ...b.tree } });
  }
  col.values('stats', da.stats, db.stats, 'stats');
  return result('dirs', dirA, dirB, col.changes, col.labels, col.warnings);
}
