// crit diff of two image files: entry by entry, field by field, in CRIT's
// pretty JSON forms, with JSON paths such as entries[3].vmas[0].start.
import { ImageError, imageToJsonText, parseImageJson } from '@ckpt/images';
import { imageInput } from '../archive/source.js';
import { IgnoreRules } from './ignore.js';
import { result, type Change, type DiffResult } from './model.js';
import { diffValues } from './values.js';

export function diffFiles(fileA: string, fileB: string, opts: { ignore?: string[] } = {}): DiffResult {
  const rules = new IgnoreRules(opts.ignore);
  const read = (path: string) => {
    const { input, file } = imageInput(path);
    try {
      return parseImageJson(imageToJsonText(input, 'pretty'));
    } catch (e) {
      throw e instanceof ImageError ? e.at({ file }) : e;
    }
  };
  const a = read(fileA);
  const b = read(fileB);
  const changes: Change[] = [];
  diffValues(a, b, '', (op, path, va, vb) => {
    if (!rules.path(path)) changes.push({ section: 'entries', path, op, ...(va !== undefined && { a: va }), ...(vb !== undefined && { b: vb }) });
  });
  return result('files', fileA, fileB, changes, {});
}
