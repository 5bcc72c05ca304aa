// Field-by-field comparison of two JSON-like values (objects, lists, numbers,
// bigints, strings), reporting each difference at its JSON path.
import type { Op } from './model.js';

export type Emit = (op: Op, path: string, a: unknown, b: unknown) => void;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
const IDENT = /^[A-Za-z_]\w*$/;

const INDEX = /^(\d+|0x[0-9a-f]+(-0x[0-9a-f]+)?)$/;

/** path + key: .name for identifiers, [12] / [0x7f00] for numbers and addresses, ["..."] otherwise. */
export const keyPath = (path: string, key: string) =>
  IDENT.test(key) ? (path ? `${path}.${key}` : key) : INDEX.test(key) ? `${path}[${key}]` : `${path}[${JSON.stringify(key)}]`;

export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return Number.isInteger(a) || typeof a === 'bigint' ? (Number.isInteger(b) || typeof b === 'bigint') && BigInt(a) === BigInt(b) : false;
  }
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
  }
  return false;
}

/** Fields that identify list elements well enough to match them across two images. */
const KEY_FIELDS = ['id', 'pid', 'fd', 'start', 'vaddr', 'pipe_id', 'ino', 'tid', 'key', 'name'];

function listKey(a: unknown[], b: unknown[]): string | undefined {
  if (!a.every(isObj) || !b.every(isObj)) return undefined;
  return KEY_FIELDS.find((k) => [a, b].every((l) => {
    const seen = new Set<string>();
    for (const e of l as Obj[]) {
      if (e[k] === undefined || typeof e[k] === 'object') return false;
      const s = String(e[k]);
      if (seen.has(s)) return false;
      seen.add(s);
    }
    return true;
  }));
}

/** Compares a and b, calling emit for every difference. Lists of records are matched by an identifying field when they have one. */
export function diffValues(a: unknown, b: unknown, path: string, emit: Emit): void {
  if (same(a, b)) return;
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) {
      if (!(k in b)) emit('removed', keyPath(path, k), a[k], undefined);
      else diffValues(a[k], b[k], keyPath(path, k), emit);
    }
    for (const k of Object.keys(b)) if (!(k in a)) emit('added', keyPath(path, k), undefined, b[k]);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const key = listKey(a, b);
    if (key && (a.length !== b.length || a.some((x, i) => !same((x as Obj)[key], (b[i] as Obj)[key])))) {
      const inB = new Map((b as Obj[]).map((e, i) => [String(e[key]), i]));
      const inA = new Set((a as Obj[]).map((e) => String(e[key])));
      (a as Obj[]).forEach((e, i) => {
        const j = inB.get(String(e[key]));
        if (j === undefined) emit('removed', `${path}[${i}]`, e, undefined);
        else diffValues(e, b[j], `${path}[${i}]`, emit);
      });
      (b as Obj[]).forEach((e, j) => {
        if (!inA.has(String(e[key]))) emit('added', `${path}[${j}]`, undefined, e);
      });
      return;
    }
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= b.length) emit('removed', `${path}[${i}]`, a[i], undefined);
      else if (i >= a.length) emit('added', `${path}[${i}]`, undefined, b[i]);
      else diffValues(a[i], b[i], `${path}[${i}]`, emit);
    }
    return;
  }
  emit('changed', path, a, b);
}
