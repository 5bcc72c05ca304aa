// Which `crit x` options apply to which explorer. An option given to an
// explorer that does not use it is refused rather than silently ignored
// (`x ps --search foo` printed the whole tree), and so are values that cannot
// be right (--pid abc, --context -1, --page-size 1000).

/** Options every explorer takes. */
const COMMON = ['json', 'color', 'pid'];

/** The further options of each explorer. */
export const X_OPTIONS: Record<string, readonly string[]> = {
  ps: ['cmdline', 'env', 'page-size'],
  fds: [],
  mems: [],
  rss: ['page-size'],
  sk: [],
  mem: ['page-size', 'addr', 'len', 'search', 'regex', 'context'],
};

/** Every option of `crit x` (their yargs names; aliases are folded in by yargs). */
export const ALL_X_OPTIONS = [...new Set([...COMMON, ...Object.values(X_OPTIONS).flat()])];

const usedBy = (opt: string) => Object.keys(X_OPTIONS).filter((w) => X_OPTIONS[w].includes(opt));

const given = (a: Record<string, unknown>, opt: string) => a[opt] !== undefined;

const isInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);

/** Why a --page-size cannot be a page size (x and diff), or undefined. */
export function pageSizeProblem(ps: unknown): string | undefined {
  const ok = isInt(ps) && (ps as number) >= 4096 && ((ps as number) & ((ps as number) - 1)) === 0;
  return ok ? undefined : `--page-size: expected a power of two, 4096 or more, got ${String(ps)}`;
}

/** Why this `crit x` command line is wrong, or undefined when it is right. */
export function xOptionsProblem(what: string, a: Record<string, unknown>): string | undefined {
  const allowed = new Set([...COMMON, ...(X_OPTIONS[what] ?? [])]);
  for (const opt of ALL_X_OPTIONS) {
    if (given(a, opt) && !allowed.has(opt)) return `--${opt} does not apply to x ${what} (it is for x ${usedBy(opt).join(', x ')})`;
  }
  if (given(a, 'pid') && !(isInt(a.pid) && (a.pid as number) > 0)) return `--pid: expected a task id (a positive whole number), got ${String(a.pid)}`;
  if (given(a, 'context') && !(isInt(a.context) && (a.context as number) >= 0)) return `--context: expected a number of bytes (0 or more), got ${String(a.context)}`;
  if (given(a, 'page-size')) {
    const problem = pageSizeProblem(a['page-size']);
    if (problem) return problem;
  }
  if (what === 'ps' && given(a, 'page-size') && !a.cmdline && !a.env) return '--page-size applies to x ps only with --cmdline or --env (it reads the dumped memory)';
  if (what === 'mem') {
    if (!given(a, 'pid')) return 'x mem needs --pid N (see crit x DIR ps)';
    const search = given(a, 'search') || given(a, 'regex');
    if (given(a, 'search') && given(a, 'regex')) return 'give --search or --regex, not both';
    if (search && (given(a, 'addr') || given(a, 'len'))) return '--addr and --len show memory; --search and --regex find in it: give one or the other';
    if (given(a, 'len') && !given(a, 'addr')) return '--len needs --addr (where to start)';
    if (given(a, 'context') && !search) return '--context applies to --search and --regex';
  }
  return undefined;
}
