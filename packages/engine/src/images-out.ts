// The one place the engine turns image documents into files. Uses @ckpt/images' encodeImage
// (the format's single home); falls back to the interim encoder until that package exports it.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImageInterim } from './images-interim.js';

export interface ImageDoc { magic: string; entries: any[] }
type Encoder = (doc: ImageDoc) => Buffer;

let encoder: Encoder | undefined;
let encoderName = 'interim';

export async function loadEncoder(): Promise<string> {
  if (encoder) return encoderName;
  try {
    const lib: any = await import('@ckpt/images' as string);
    if (typeof lib.encodeImage === 'function') {
      encoder = (doc) => Buffer.from(lib.encodeImage(doc));
      encoderName = '@ckpt/images';
      return encoderName;
    }
  } catch {
    // not built yet
  }
  encoder = encodeImageInterim;
  return encoderName;
}

/** Writes DIR/NAME atomically (temp file + rename). loadEncoder() must have run. */
export function writeImage(dir: string, name: string, doc: ImageDoc): number {
  if (!encoder) throw new Error('writeImage before loadEncoder');
  const buf = encoder(doc);
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, path);
  return buf.length;
}
