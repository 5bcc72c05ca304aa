// CLI side of crit set and crit edit: report what changed.
import { toStdout } from '../io.js';
import { safeJson, safeText } from '../render/escape.js';
import { jsonText } from '../render/json.js';
import { makeStyle } from '../render/style.js';
import { editImage } from './edit.js';
import { setField, type SetArgs } from './set.js';

type Changes = Array<{ path: string; from: unknown; to: unknown }>;

// JSON of values from the image, with what a terminal would act on escaped
const show = (v: unknown) => (v === undefined ? '(absent)' : safeJson(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}` : x))));

async function report(file: string, changes: Changes, json: boolean | undefined, color: boolean | undefined, dry = false): Promise<void> {
  if (json) return toStdout([jsonText({ file, changed: changes.length > 0, written: !dry && changes.length > 0, changes })]);
  const style = makeStyle({ color });
  if (!changes.length) return toStdout([`${safeText(file)}: no change\n`]);
  const lines = changes.map((c) => `  ${style.bold(safeText(c.path))}: ${style.red(show(c.from))} → ${style.green(show(c.to))}\n`);
  await toStdout([`${safeText(file)}: ${dry ? 'would change' : 'changed'}\n`, ...lines]);
}

export async function setCommand(args: SetArgs & { json?: boolean; color?: boolean }): Promise<void> {
  const r = setField(args);
  await report(args.file, r.changes, args.json, args.color, args.dryRun);
}

export async function editCommand(args: { file: string; json?: boolean; color?: boolean }): Promise<void> {
  const r = editImage(args.file);
  await report(args.file, r.changes, args.json, args.color);
}
