// --ignore PATTERN for crit diff. A pattern is one of:
//   a section name (tree, task, fds, sockets, mems, pages, stats): drop that section;
//   "pids": match tasks by their place in the tree, not by pid, and ignore pid fields;
//   "timestamps": ignore times and clocks (stats times, uptime, clock values);
//   a field name (pos, size, flags...): ignore that field wherever it is;
//   a JSON path with * (one step) and ** (any depth), e.g. tasks[*].fds[1].pos: ignore it and below.
import { ImageError, messageNames, messagePlan, UNKNOWN_KEY } from '@ckpt/images';
import { RLIMIT_NAMES, signalName } from '../linux-names.js';
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

/**
 * The keys crit diff's model adds to the images' own fields (snapshot.ts: the
 * tree, task, fds, sockets and mems of each task; files: entries) and socket
 * reports (sk.ts). A rule naming none of these nor a schema field is a typo.
 */
const MODEL_FIELDS = [
  'tasks', 'entries', 'magic', 'extra', UNKNOWN_KEY,
  'comm', 'state', 'ppid', 'pgid', 'sid', 'threads',
  'creds', 'rlimits', 'sigactions', 'tc', 'thread', 'cwd', 'root', 'umask', 'regs',
  'fds', 'kind', 'target', 'sockets', 'type', 'proto', 'local', 'remote', 'recvQ', 'sendQ',
  'mm', 'exe', 'vmas', 'file', 'pages', 'stats',
];

let known: Set<string> | undefined;

/** Every field name a diff path can hold. */
export function knownFields(): Set<string> {
  if (!known) {
    known = new Set(MODEL_FIELDS);
    for (const m of messageNames()) for (const f of messagePlan(m).fields) known.add(f.name);
    for (const r of RLIMIT_NAMES) known.add(r);
    for (let n = 1; n <= 64; n++) known.add(signalName(n));
  }
  return known;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function unknownRule(rule: string, name: string): ImageError {
  const near = [...DIR_SECTIONS, 'pids', 'timestamps', ...knownFields()]
    .map((f) => ({ f, d: distance(name.toLowerCase(), f.toLowerCase()) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(name.length / 4)))
    .sort((x, y) => x.d - y.d)[0];
  return new ImageError(
    `--ignore ${rule}: ${rule === name ? '' : `${name} is `}not a field of the images or of crit diff's report${near ? ` (did you mean ${near.f}?)` : ''}; ` +
    `give a section (${DIR_SECTIONS.join(', ')}), pids, timestamps, a field name (pos, comm, target, ...) or a JSON path with * and ** (tasks[*].fds[1].pos)`);
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
      else if (/^[A-Za-z_][\w-]*$/.test(p)) {
        if (!knownFields().has(p)) throw unknownRule(p, p);
        this.fields.add(p);
      } else {
        // every named step of a path must exist somewhere (a step with * matches any)
        const bad = fieldNames(p.replace(/^\$\.?/, '')).find((n) => !n.includes('*') && /^[A-Za-z_$]/.test(n) && !knownFields().has(n));
        if (bad !== undefined) throw unknownRule(p, bad);
        this.globs.push(globToRegex(p));
      }
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
