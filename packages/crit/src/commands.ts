// The upstream-compatible commands: decode, encode, info, show, x.
import { readFileSync } from 'node:fs';
import {
  encodeImage, imageInfo, imageToJsonText, imageJsonChunks, ImageError, parseImageJson, pyDumps, type Entry, type JsonForm,
} from '@ckpt/images';
import { imageInput } from './archive/source.js';
import { refuseDropped } from './edit/check.js';
import { readStdin, toFileAtomic, toStdout } from './io.js';
import { openImageDir } from './explore/imagedir.js';
import { collectPs, psText } from './explore/ps.js';
import { eachTaskFds, fdsText } from './explore/fds.js';
import { eachTaskMems, memsText } from './explore/mems.js';
import { eachTaskRss, rssText } from './explore/rss.js';
import { requireShown } from './explore/tasks.js';

export interface Warn {
  (msg: string): void;
}

export async function decode(opts: { in?: string; out?: string; pretty?: boolean; nopl?: boolean }, warn: Warn): Promise<void> {
  const { input, file } = opts.in !== undefined ? imageInput(opts.in) : { input: await readStdin(), file: '<stdin>' };
  const form: JsonForm = opts.pretty ? 'pretty' : 'plain';
  // upstream is silent about required fields missing on the wire; encode would refuse them
  const onMissing = (e: Entry) => warn(`${file}: entry ${e.index} at offset ${e.offset}: ${e.type} lacks required ${e.missing!.join(', ')} (encode will refuse it)`);
  const chunks = withFileName(imageJsonChunks(input, form, { skipPayload: opts.nopl, onMissing }), file);
  // upstream: a newline after the JSON on stdout, none in a file
  if (opts.out) toFileAtomic(opts.out, chunks);
  else await toStdout(appendNewline(chunks));
}

function* appendNewline(chunks: Iterable<string>): Generator<string> {
  yield* chunks;
  yield '\n';
}

function* withFileName<T>(gen: Iterable<T>, file: string): Generator<T> {
  try {
    yield* gen;
  } catch (e) {
    if (e instanceof ImageError) e.at({ file });
    throw e;
  }
}

export async function encode(opts: { in?: string; out?: string }): Promise<void> {
  const file = opts.in ?? '<stdin>';
  const raw = opts.in ? readFileSync(opts.in) : await readStdin();
  // control bytes other than whitespace never occur in JSON text: a binary image was given
  if (/[\x00-\x08\x0e-\x1f]/.test(raw.subarray(0, 64).toString('latin1'))) {
    throw new ImageError('this is not JSON (a binary image?): encode expects the JSON that decode prints', { file });
  }
  let image: Buffer;
  try {
    const doc = parseImageJson(raw.toString('utf8'));
    image = encodeImage(doc);
    // as set and edit: nothing given is silently lost; fields unknown to the
    // schema go through only in the form decode prints them
    // (read back as JSON, not decoded: payloads such as IPC messages have JSON forms of their own)
    refuseDropped(doc, parseImageJson(imageToJsonText(image, 'plain')), '; decode keeps fields it does not know under "$unknown"');
  } catch (e) {
    throw e instanceof ImageError ? e.at({ file }) : e;
  }
  if (opts.out) toFileAtomic(opts.out, [image]);
  else await toStdout([image]);
}

export async function info(opts: { in: string }): Promise<void> {
  const { input, file } = imageInput(opts.in);
  let info;
  try {
    info = imageInfo(input);
  } catch (e) {
    throw e instanceof ImageError ? e.at({ file }) : e;
  }
  await toStdout([pyDumps(info, 4) + '\n']);
}

export const EXPLORERS = ['ps', 'fds', 'mems', 'rss'] as const;

/**
 * The upstream explorers' text, written as it is made, task by task (as
 * upstream prints it): on a large dump nothing is held whole.
 */
export async function explore(opts: { dir: string; what: string; pageSize?: number; pid?: number }): Promise<void> {
  const dir = openImageDir(opts.dir);
  const { pid } = opts;
  switch (opts.what) {
    case 'ps': return toStdout(psText(collectPs(dir, pid)));
    case 'fds': return toStdout(fdsText(requireShown(eachTaskFds(dir, undefined, pid), pid)));
    case 'mems': return toStdout(memsText(requireShown(eachTaskMems(dir, undefined, pid), pid)));
    case 'rss': return toStdout(rssText(requireShown(eachTaskRss(dir, opts.pageSize, undefined, pid), pid)));
    default: throw new ImageError(`unknown explorer ${opts.what}`);
  }
}
