// `crit set FILE PATH VALUE`: change one field of an image, checked against the
// schema, written atomically; on any error the file is left as it was.
import { ImageError, parseImageJson } from '@ckpt/images';
import { diffValues } from '../diff/values.js';
import { encodeChecked } from './check.js';
import { loadForEdit, replaceImage } from './image-doc.js';
import { parsePath, pathText, type Step } from './path.js';

export interface SetArgs {
  file: string;
  path: string;
  value: string;
  prettyInput?: boolean;
  dryRun?: boolean;
}

/** VALUE on the command line: JSON when it parses as JSON, otherwise the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Container = Record<string, unknown> | unknown[];

function place(doc: unknown, steps: Step[]): { parent: Container; key: Step } {
  let cur: unknown = doc;
  for (let i = 0; i < steps.length - 1; i++) {
    const s = steps[i];
    const next = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[s as string] : undefined;
    if (next === undefined || next === null || typeof next !== 'object') {
      throw new ImageError(`no such path: ${pathText(steps.slice(0, i + 1))} is not in this image`, { path: pathText(steps) });
    }
    cur = next;
  }
  const key = steps[steps.length - 1];
  if (Array.isArray(cur)) {
    if (typeof key !== 'number' || key >= cur.length) throw new ImageError(`no such path: the list has ${cur.length} element(s)`, { path: pathText(steps) });
  } else if (typeof key === 'number') throw new ImageError('no such path: not a list', { path: pathText(steps) });
  return { parent: cur as Container, key };
}

function coerce(old: unknown, value: unknown, prettyInput: boolean, path: string): unknown {
  // a lone value for a list field (e.g. one IP address for src_addr) becomes a one-element list
  if (Array.isArray(old) && !Array.isArray(value)) value = [value];
  const numeric = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
  const oldIsNum = numeric(old) || (Array.isArray(old) && old.length > 0 && old.every(numeric));
  const newHasText = typeof value === 'string' || (Array.isArray(value) && value.some((v) => typeof v === 'string'));
  if (!prettyInput && oldIsNum && newHasText) {
    throw new ImageError(`expected a number here (${JSON.stringify(value)} is text: use --pretty-input for hex, flag names, addresses or device numbers)`, { path });
  }
  return value;
}

export interface SetResult {
  changes: Array<{ path: string; from: unknown; to: unknown }>;
}

export function setField(args: SetArgs): SetResult {
  const form = args.prettyInput ? 'pretty' : 'plain';
  const img = loadForEdit(args.file, form);
  let steps: Step[];
  try {
    steps = parsePath(args.path);
  } catch (e) {
    throw new ImageError((e as Error).message, { file: args.file });
  }
  const path = pathText(steps);
  try {
    const { parent, key } = place(img.doc, steps);
    const old = (parent as Record<string, unknown>)[key as string];
    (parent as Record<string, unknown>)[key as string] = coerce(old, parseValue(args.value), Boolean(args.prettyInput), path);
    const { image, readBack } = encodeChecked(img.doc, form);
    const changes: SetResult['changes'] = [];
    diffValues(parseImageJson(img.text), readBack, '', (_op, p, from, to) => changes.push({ path: p, from, to }));
    if (!args.dryRun && !image.equals(img.bytes)) replaceImage(args.file, image);
    return { changes };
  } catch (e) {
    if (e instanceof ImageError) throw e.at({ file: args.file });
    throw e;
  }
}
