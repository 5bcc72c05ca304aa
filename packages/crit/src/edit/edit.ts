// `crit edit FILE`: the image as pretty JSON in $VISUAL/$EDITOR; when the
// editor exits the JSON is checked and encoded, and the image replaced
// atomically. A bad edit names the JSON path, changes nothing, and the edited
// text is kept so that it can be fixed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ImageError, parseImageJson } from '@ckpt/images';
import { diffValues } from '../diff/values.js';
import { encodeChecked } from './check.js';
import { loadForEdit, replaceImage } from './image-doc.js';

export interface EditResult {
  changes: Array<{ path: string; from: unknown; to: unknown }>;
  /** where the rejected text was kept (on error) */
  kept?: string;
}

export function editorCommand(): string {
  return process.env.VISUAL || process.env.EDITOR || 'vi';
}

export function editImage(file: string): EditResult {
  const img = loadForEdit(file, 'pretty');
  const work = mkdtempSync(join(tmpdir(), 'crit-edit-'));
  const jsonFile = join(work, basename(file) + '.json');
  writeFileSync(jsonFile, img.text + '\n');
  // the editor may be a command with arguments ("code --wait"): run it through the shell
  const r = spawnSync('/bin/sh', ['-c', `${editorCommand()} "$1"`, 'sh', jsonFile], { stdio: 'inherit' });
  if (r.status !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new ImageError(`the editor (${editorCommand()}) exited with ${r.status ?? r.signal}: nothing changed`, { file });
  }
  const text = readFileSync(jsonFile, 'utf8');
  if (text.trim() === img.text.trim()) {
    rmSync(work, { recursive: true, force: true });
    return { changes: [] };
  }
  try {
    const doc = parseImageJson(text);
    const { image, readBack } = encodeChecked(doc, 'pretty');
    const changes: EditResult['changes'] = [];
    diffValues(img.doc, readBack, '', (_op, p, from, to) => changes.push({ path: p, from, to }));
    if (!image.equals(img.bytes)) replaceImage(file, image);
    rmSync(work, { recursive: true, force: true });
    return { changes };
  } catch (e) {
    // a refused edit, or an image that cannot be written: the text is not lost
    const kept = ` (the image is unchanged; your edited text is kept in ${jsonFile})`;
    if (e instanceof ImageError) {
      e.message += kept;
      throw e.at({ file });
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw new ImageError(`cannot write the image: ${err.message.replace(/^E[A-Z0-9]+: ([^,]+).*$/s, '$1')}${kept}`, { file });
    throw e;
  }
}
