// What crit diff reports: a list of changes, each at a JSON path, in a section
// that --only and --ignore can select.

export const DIR_SECTIONS = ['tree', 'task', 'fds', 'sockets', 'mems', 'pages', 'stats'] as const;
export type Section = (typeof DIR_SECTIONS)[number] | 'entries';

export type Op = 'added' | 'removed' | 'changed';

export interface PageRange {
  start: string;
  end: string;
  pages: number;
  /** changed: in both dumps with other bytes; added/removed: held by one dump only */
  kind: Op;
}

export interface PagesDetail {
  mapping: string;
  changed: number;
  added: number;
  removed: number;
  ranges: PageRange[];
  /** ranges left out of `ranges` to keep the report bounded */
  moreRanges: number;
}

export interface Change {
  section: Section;
  /** JSON path, e.g. tasks[123].fds[1].pos or entries[3].vmas[0].start */
  path: string;
  op: Op;
  a?: unknown;
  b?: unknown;
  pages?: PagesDetail;
}

export interface DiffResult {
  schema: 'crit-diff/1';
  kind: 'dirs' | 'files';
  a: string;
  b: string;
  equal: boolean;
  summary: { total: number; bySection: Record<string, number> };
  changes: Change[];
  /** human names for path prefixes (task comm, fd target, mapping) */
  labels: Record<string, string>;
  /** what could not be compared (e.g. a pages file missing from a dump) */
  warnings: string[];
}

export function result(kind: DiffResult['kind'], a: string, b: string, changes: Change[], labels: Record<string, string>, warnings: string[] = []): DiffResult {
  const bySection: Record<string, number> = {};
  for (const c of changes) bySection[c.section] = (bySection[c.section] ?? 0) + 1;
  // keep the labels of path prefixes that some change has
  const prefixes = new Set<string>();
  for (const c of changes) {
    for (let i = 0; i < c.path.length; i++) if (c.path[i] === '.' || c.path[i] === '[') prefixes.add(c.path.slice(0, i));
    prefixes.add(c.path);
  }
  const used: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (prefixes.has(k)) used[k] = labels[k];
  return { schema: 'crit-diff/1', kind, a, b, equal: changes.length === 0, summary: { total: changes.length, bySection }, changes, labels: used, warnings };
}
