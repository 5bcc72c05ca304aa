// `crit diff A B`: exit 0 when equal, 1 when different, 2 on error (as diff(1)).
import { ImageError } from '@ckpt/images';
import { archivePath, isArchiveFile, statOrUndefined } from '../archive/source.js';
import { pageSizeProblem } from '../explore/options.js';
import { toStdout } from '../io.js';
import { safeText } from '../render/escape.js';
import { jsonText } from '../render/json.js';
import { makeStyle } from '../render/style.js';
import { diffDirs } from './dirs.js';
import { diffFiles } from './files.js';
import { DIR_SECTIONS } from './model.js';
import { diffText } from './render.js';

export interface DiffArgs {
  a: string;
  b: string;
  json?: boolean;
  ignore?: string[];
  only?: string[];
  color?: boolean;
  pageSize?: number;
}

/** a dump (a directory or a checkpoint archive) or one image (which may be inside an archive) */
function kindOf(path: string): 'directory' | 'file' {
  const st = statOrUndefined(path);
  if (!st) {
    if (archivePath(path)) return 'file'; // an image inside an archive
    throw new ImageError('no such file or directory', { file: path });
  }
  return st.isDirectory() || isArchiveFile(path) ? 'directory' : 'file';
}

/** Runs the diff and returns the exit status. */
export async function diffCommand(args: DiffArgs): Promise<number> {
  const ka = kindOf(args.a);
  const kb = kindOf(args.b);
  if (ka !== kb) throw new ImageError(`cannot compare a ${ka} with a ${kb}: give two image directories or two image files`);
  const only = (args.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  for (const o of only) {
    if (!(DIR_SECTIONS as readonly string[]).includes(o)) throw new ImageError(`--only ${o}: expected one of ${DIR_SECTIONS.join(', ')}`);
  }
  if (ka === 'file' && only.length) throw new ImageError('--only applies to image directories; for files use --ignore');
  if (ka === 'file' && args.pageSize !== undefined) throw new ImageError('--page-size applies to image directories (their memory pages)');
  const badPageSize = args.pageSize === undefined ? undefined : pageSizeProblem(args.pageSize);
  if (badPageSize) throw new ImageError(badPageSize);
  const r = ka === 'directory'
    ? diffDirs(args.a, args.b, { ignore: args.ignore, only, pageSize: args.pageSize })
    : diffFiles(args.a, args.b, { ignore: args.ignore });
  if (!args.json) for (const w of r.warnings) process.stderr.write(`crit: warning: ${safeText(w)}\n`);
  await toStdout(args.json ? [jsonText(r)] : diffText(r, makeStyle({ color: args.color })));
  return r.equal ? 0 : 1;
}
