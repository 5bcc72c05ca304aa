// GNU getopt_long as criu uses it: options and operands in any order ("--" ends options), long
// options by any unique prefix, `--name=value` or `--name value` for a required argument, an
// optional argument only attached (`--name=value`, `-v4`), short options clustered (`-dj`).

export type ArgKind = 'none' | 'required' | 'optional';

export interface GetoptSpec { long: string; short?: string; arg: ArgKind }

export interface GetoptHit<S extends GetoptSpec> {
  spec: S;
  value?: string;
  /** as written: -v, --verbosity, --no-shell-job, ... */
  spelled: string;
  /** the negated form (--no-NAME) of a boolean option */
  negated: boolean;
}

/** A usage error: one line, shown with a hint (never with the whole help). */
export class UsageError extends Error {}

/** negatable: long names that also have a --no-NAME form (criu's BOOL_OPT) */
export function getopt<S extends GetoptSpec>(argv: string[], specs: readonly S[], negatable: (s: S) => boolean): { hits: GetoptHit<S>[]; operands: string[] } {
  const byLong = new Map<string, { spec: S; negated: boolean }>();
  for (const s of specs) {
    byLong.set(s.long, { spec: s, negated: false });
    if (negatable(s)) byLong.set(`no-${s.long}`, { spec: s, negated: true });
  }
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const hits: GetoptHit<S>[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      let found = byLong.get(name);
      if (!found) {
        const cands = [...byLong.keys()].filter((k) => k.startsWith(name));
        const distinct = new Set(cands.map((k) => byLong.get(k)));
        if (distinct.size > 1) throw new UsageError(`option '--${name}' is ambiguous; possibilities: ${cands.map((c) => `'--${c}'`).join(' ')}`);
        if (distinct.size === 1) found = byLong.get(cands[0]);
      }
      if (!found) throw new UsageError(`unrecognized option '--${name}'`);
      const { spec, negated } = found;
      const spelled = `--${negated ? 'no-' : ''}${spec.long}`;
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      if (value !== undefined && (spec.arg === 'none' || negated)) throw new UsageError(`option '${spelled}' doesn't allow an argument`);
      if (spec.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`option '${spelled}' requires an argument`);
        value = argv[++i];
      }
      hits.push({ spec, value, spelled, negated });
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k];
        const spec = byShort.get(c);
        if (!spec) throw new UsageError(`invalid option -- '${c}'`);
        const rest = a.slice(k + 1);
        if (spec.arg === 'none') {
          hits.push({ spec, spelled: `-${c}`, negated: false });
          continue;
        }
        let value: string | undefined = rest || undefined;
        if (spec.arg === 'required' && value === undefined) {
          if (i + 1 >= argv.length) throw new UsageError(`option requires an argument -- '${c}'`);
          value = argv[++i];
        }
        hits.push({ spec, value, spelled: `-${c}`, negated: false });
        break;
      }
      continue;
    }
    operands.push(a);
  }
  return { hits, operands };
}
