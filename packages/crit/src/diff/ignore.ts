// --ignore PATTERN for crit diff. A pattern is one of:
//   a section name (tree, task, fds, sockets, mems, pages, stats): drop that section;
//   "pids": match tasks by their place in the tree, not by pid, and ignore pid fields;
//   "timestamps": ignore times and clocks (stats times, uptime, clock values);
//   a field name (pos, size, flags...): ignore that field wherever it is;
//   a JSON path with * (one step) and ** (any depth), e.g. tasks[*].fds[1].pos: ignore it and below.
import { DIR_SECTIONS, type Section } from './model.js';

const PID_FIELDS = ['pid', 'ppid', 'pgid', 'sid', 'threads', 'tid'];
const TIME_FIELD = /(^|_)(time|uptime|ts)$|^tv_(n?sec|usec)$|^dump_criu_run_id$/;

function globToRegex(glob: string): RegExp {
  const src = glob.replace(/^\$\.?/, '').split(/(\*\*|\*)/).map((part) => {
    if (part === '**') return '.*';
    if (part === '*') return '[^.\\[\\]]*';
    return part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }).join('');
  return new RegExp(`^(?:${src})(?:[.\\[].*)?$`);
}

/** The field names along a path: tasks[3].fds[1].pos -> tasks, fds, pos. */
function fieldNames(path: string): string[] {
  return path.split('.').map((s) => s.replace(/\[.*$/, '')).filter(Boolean);
}

export class IgnoreRules {
  readonly pids: boolean;
  private sections = new Set<string>();
  private fields = new Set<string>();
  private times = false;
  private globs: RegExp[] = [];

  constructor(patterns: string[] = []) {
    let pids = false;
    for (const p of patterns.map((x) => x.trim()).filter(Boolean)) {
      if ((DIR_SECTIONS as readonly string[]).includes(p)) this.sections.add(p);
      else if (p === 'pids') pids = true;
      else if (p === 'timestamps' || p === 'times') this.times = true;
      else if (/^[A-Za-z_][\w-]*$/.test(p)) this.fields.add(p);
      else this.globs.push(globToRegex(p));
    }
    this.pids = pids;
    if (pids) for (const f of PID_FIELDS) this.fields.add(f);
  }

  section(s: Section): boolean {
    return this.sections.has(s);
  }

  path(path: string): boolean {
    const names = fieldNames(path);
    if (names.some((n) => this.fields.has(n))) return true;
    if (this.times && names.some((n) => TIME_FIELD.test(n))) return true;
    return this.globs.some((g) => g.test(path));
  }
}
